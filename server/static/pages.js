// cokg resource pages: a "Copy" button beside each IRI (the page works without it).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  if (!navigator.clipboard) return;
  for (const element of document.querySelectorAll("[data-copy]")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy the IRI");
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(element.textContent.trim());
        button.textContent = "Copied";
      } catch {
        button.textContent = "Select the IRI to copy it";
      }
    });
    element.after(button);
  }
});
