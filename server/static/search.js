// The search page without a reload of its own: suggestions while typing (titles of entries
// that match the words so far, the last one as a prefix). Everything works without it.
(() => {
  "use strict";
  const input = document.getElementById("search-q");
  const list = document.getElementById("search-suggestions");
  const form = document.getElementById("search-form");
  if (!input || !list || !form) return;
  const endpoint = form.getAttribute("action") + ".json";
  let timer = 0;
  let controller = null;

  const suggest = async () => {
    const text = input.value.trim();
    if (text.length < 2 || /["*]/.test(text)) return;
    if (controller) controller.abort();
    controller = new AbortController();
    const url = `${endpoint}?${new URLSearchParams({ q: `${text}*`, size: "8", facets: "0" })}`;
    try {
      const response = await fetch(url, { signal: controller.signal, headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const answer = await response.json();
      list.replaceChildren(
        ...answer.hits.map((hit) => {
          const option = document.createElement("option");
          option.value = hit.title; // textContent-like: never parsed as HTML
          return option;
        }),
      );
    } catch (error) {
      if (error.name !== "AbortError") list.replaceChildren();
    }
  };

  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(suggest, 150);
  });
})();
