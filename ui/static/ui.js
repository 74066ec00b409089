// Tessera review workspace: keyboard decisions on the takes grid, "select all" on held variants.
// Everything works without it (plain forms); it only saves the reviewer the mouse.
"use strict";

function takesPage() {
  const cards = Array.from(document.querySelectorAll("#takes .take"));
  if (!cards.length) return;
  let current = Math.max(0, cards.findIndex((c) => "#" + c.id === location.hash));
  const marked = [];

  function focus(i) {
    current = Math.min(cards.length - 1, Math.max(0, i));
    cards.forEach((c, k) => c.classList.toggle("current", k === current));
    cards[current].focus();
    cards[current].scrollIntoView({ block: "nearest" });
  }

  function reason(kind) {
    const field = cards[current].querySelector(`form.${kind} input[name=reason]`);
    field.focus();
  }

  cards.forEach((c, k) => c.addEventListener("focus", () => { current = k; cards.forEach((d, j) => d.classList.toggle("current", j === k)); }));
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
    if (typing) {
      if (e.key === "Escape") { e.target.value = ""; focus(current); }
      return;                          // Enter in a reason field submits its form, as a form does
    }
    const video = cards[current].querySelector("video");
    switch (e.key) {
      case "ArrowRight": case "j": focus(current + 1); break;
      case "ArrowLeft": case "k": focus(current - 1); break;
      case " ": if (video.paused) { video.play(); } else { video.pause(); } break;
      case "p": reason("pick"); break;
      case "x": reason("reject"); break;
      case "c":
        cards[current].classList.add("marked");
        marked.push(cards[current].dataset.n);
        if (marked.length === 2) {
          const form = document.getElementById("compare-form");
          form.elements.a.value = marked[0];
          form.elements.b.value = marked[1];
          form.submit();
        }
        break;
      default: return;
    }
    e.preventDefault();
  });
  focus(current);
}

function variantsPage() {
  const all = document.getElementById("select-all");
  if (!all) return;
  all.addEventListener("change", () => {
    document.querySelectorAll("input[name=asset]").forEach((box) => { box.checked = all.checked; });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "takes") takesPage();
  if (page === "variants") variantsPage();
});
