// The query page's editor. The page works without this file: the form is a plain GET that
// the server answers with the results. This adds line numbers, editor keys (Ctrl/Cmd+Enter
// runs, Tab indents, Esc then Tab leaves), examples that load without running, runs without
// a page reload (the server renders the results; this swaps them in), and a copy button.
(function () {
  "use strict";

  const INDENT = "  ";
  const MODIFIERS = ["Shift", "Control", "Alt", "Meta", "CapsLock"];

  const form = document.getElementById("query-form");
  const editor = document.getElementById("query");
  if (!form || !editor) {
    return;
  }
  const runButton = form.querySelector(".run-button");
  const status = document.getElementById("run-status");
  const keysHelp = document.getElementById("editor-keys");

  function announce(message) {
    if (status) {
      status.textContent = message;
    }
  }

  // -- line numbers ------------------------------------------------------------------------

  const gutter = document.createElement("pre");
  gutter.className = "gutter";
  gutter.setAttribute("aria-hidden", "true");
  editor.parentNode.insertBefore(gutter, editor);
  let drawn = "";
  let errorLine = null;

  function drawGutter() {
    const lines = editor.value.split("\n").length;
    const key = lines + ":" + errorLine;
    if (key !== drawn) {
      const numbers = document.createDocumentFragment();
      for (let i = 1; i <= lines; i += 1) {
        const number = document.createElement("span");
        number.textContent = String(i);
        if (i === errorLine) {
          number.className = "error-line";
        }
        numbers.appendChild(number);
      }
      // Room for the editor's horizontal scroll bar, so the last numbers can scroll level.
      numbers.appendChild(document.createElement("br"));
      numbers.appendChild(document.createElement("br"));
      gutter.replaceChildren(numbers);
      drawn = key;
    }
    gutter.scrollTop = editor.scrollTop;
  }

  editor.addEventListener("scroll", () => {
    gutter.scrollTop = editor.scrollTop;
  });
  editor.addEventListener("input", () => {
    errorLine = null; // the text moved on; the old position means nothing now
    drawGutter();
  });

  // -- editing keys ------------------------------------------------------------------------

  // execCommand keeps the browser's undo history; setRangeText is the fallback.
  function insert(text) {
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      editor.setRangeText(text, editor.selectionStart, editor.selectionEnd, "end");
      editor.dispatchEvent(new Event("input"));
    }
  }

  function selectedLines() {
    const value = editor.value;
    const start = editor.selectionStart;
    let end = editor.selectionEnd;
    if (end > start && value[end - 1] === "\n") {
      end -= 1; // a selection ending at a line's start does not take that line
    }
    const from = value.lastIndexOf("\n", start - 1) + 1;
    return { start, end, from, block: value.slice(from, end) };
  }

  function indent() {
    const { start, end, from, block } = selectedLines();
    if (start === end || !editor.value.slice(start, end).includes("\n")) {
      insert(INDENT);
      return;
    }
    const indented = block.replace(/^/gm, INDENT);
    editor.setSelectionRange(from, end);
    insert(indented);
    editor.setSelectionRange(start + INDENT.length, end + indented.length - block.length);
  }

  function outdent() {
    const { start, end, from, block } = selectedLines();
    const outdented = block.replace(/^ {1,2}/gm, "");
    if (outdented === block) {
      return;
    }
    const firstRemoved = block.length - block.replace(/^ {1,2}/, "").length;
    editor.setSelectionRange(from, end);
    insert(outdented);
    editor.setSelectionRange(
      Math.max(from, start - firstRemoved),
      end - (block.length - outdented.length),
    );
  }

  let escaped = false;
  editor.addEventListener("keydown", (event) => {
    if (MODIFIERS.includes(event.key)) {
      return;
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    const leaving = escaped;
    escaped = event.key === "Escape";
    if (event.key === "Tab" && !leaving && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      if (event.shiftKey) {
        outdent();
      } else {
        indent();
      }
    }
  });

  function placeCaret(line, column) {
    const lines = editor.value.split("\n");
    if (line < 1 || line > lines.length) {
      return;
    }
    let offset = 0;
    for (let i = 0; i < line - 1; i += 1) {
      offset += lines[i].length + 1;
    }
    offset += Math.min(Math.max((column || 1) - 1, 0), lines[line - 1].length);
    editor.setSelectionRange(offset, offset);
  }

  // -- examples ----------------------------------------------------------------------------

  function markExample(current) {
    for (const link of document.querySelectorAll("a.example")) {
      if (link === current) {
        link.setAttribute("aria-current", "true");
      } else {
        link.removeAttribute("aria-current");
      }
    }
    // Where the list scrolls (wide screens), bring the current example into its view.
    const list = document.querySelector(".example-list");
    if (current && list && list.scrollHeight > list.clientHeight) {
      const below = current.getBoundingClientRect().top - list.getBoundingClientRect().top;
      if (below < 0 || below > list.clientHeight - current.offsetHeight) {
        list.scrollTop += below - list.clientHeight / 3;
      }
    }
  }

  for (const link of document.querySelectorAll("a.example")) {
    link.addEventListener("click", (event) => {
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
        return; // opening in a new tab or window runs it there
      }
      event.preventDefault();
      const text = new URL(link.href).searchParams.get("query") || "";
      editor.focus();
      editor.select();
      insert(text);
      editor.setSelectionRange(0, 0);
      editor.scrollTop = 0;
      markExample(link);
      drawGutter();
      announce("Loaded the example “" + link.textContent.trim() + "”. Run query runs it.");
    });
  }

  // -- results -----------------------------------------------------------------------------

  function bindResults(results) {
    for (const button of results.querySelectorAll("button[data-copy]")) {
      const input = document.getElementById(button.dataset.copy);
      if (!input) {
        continue;
      }
      button.hidden = false;
      button.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(input.value);
        } catch (error) {
          input.select(); // no clipboard API here (e.g. plain http): the old way
          document.execCommand("copy");
        }
        button.textContent = "Copied";
        announce("Share link copied");
        window.setTimeout(() => {
          button.textContent = "Copy";
        }, 2000);
      });
    }
    for (const input of results.querySelectorAll(".share-url")) {
      input.addEventListener("focus", () => input.select());
    }
    errorLine = Number(results.dataset.errorLine) || null;
    drawGutter();
    if (errorLine) {
      placeCaret(errorLine, Number(results.dataset.errorColumn) || 1);
    }
  }

  function summaryOf(results) {
    const heading = results.querySelector("h2");
    const summary = results.querySelector(".summary, .boolean");
    const parts = [heading, summary].filter(Boolean).map((e) => e.textContent.trim());
    return parts.join(": ").replace(/\s+/g, " ");
  }

  let running = null;
  let shown = window.location.search; // the query string whose results are on the page

  form.addEventListener("submit", async (event) => {
    if (!window.fetch || !window.DOMParser || !window.AbortController) {
      return; // let the browser load the page
    }
    event.preventDefault();
    const address = form.action.split("?")[0];
    const url = address + "?" + new URLSearchParams(new FormData(form)).toString();
    if (running) {
      running.abort();
    }
    const controller = new AbortController();
    running = controller;
    runButton.setAttribute("aria-busy", "true");
    announce("Running the query…");
    try {
      const response = await fetch(url, {
        headers: { Accept: "text/html" },
        signal: controller.signal,
      });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("results");
      const results = document.getElementById("results");
      if (!fresh || !results) {
        throw new Error("the answer has no results section");
      }
      results.replaceWith(document.adoptNode(fresh));
      const share = fresh.querySelector("#share-url");
      history.pushState(null, "", share ? share.value : url);
      shown = window.location.search;
      bindResults(fresh);
      const example = Array.from(document.querySelectorAll("a.example")).find(
        (link) => new URL(link.href).searchParams.get("query") === editor.value,
      );
      markExample(example);
      announce(summaryOf(fresh));
    } catch (error) {
      if (error.name !== "AbortError") {
        form.submit(); // the plain way still works
      }
    } finally {
      if (running === controller) {
        running = null;
        runButton.removeAttribute("aria-busy");
      }
    }
  });

  // Pages reached by running queries in place are real addresses: going back loads them.
  // (A fragment link, such as "skip to content", changes no query and reloads nothing.)
  window.addEventListener("popstate", () => {
    if (window.location.search !== shown) {
      window.location.reload();
    }
  });

  if (keysHelp) {
    keysHelp.hidden = false;
  }
  markExample(document.querySelector('a.example[aria-current="true"]'));
  const initial = document.getElementById("results");
  if (initial) {
    bindResults(initial);
  } else {
    drawGutter();
  }
})();
