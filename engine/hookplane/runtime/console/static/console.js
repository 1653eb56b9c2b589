// Hookplane console: copy buttons and confirm dialogs. Every form also works without this
// file (a rotation without it asks for confirmation on a page of its own).
"use strict";
document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target) return;
  const copy = target.closest("[data-copy]");
  if (copy) {
    const source = document.getElementById(copy.getAttribute("data-copy"));
    if (!source) return;
    const text = source.textContent.trim();
    const done = () => { copy.textContent = "Copied"; setTimeout(() => { copy.textContent = "Copy"; }, 2000); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => selectText(source));
    } else {
      selectText(source);
    }
    return;
  }
  const opener = target.closest("[data-dialog]");
  if (opener) {
    const dialog = document.getElementById(opener.getAttribute("data-dialog"));
    if (dialog && typeof dialog.showModal === "function") {
      event.preventDefault();
      dialog.showModal();
      const first = dialog.querySelector("button");
      if (first) first.focus();
    }
    return;
  }
  const closer = target.closest("[data-close]");
  if (closer) {
    const dialog = document.getElementById(closer.getAttribute("data-close"));
    if (dialog) dialog.close();
  }
});

function selectText(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}
