// The after-sales desk's keyboard and clicks: j / k move the selected row, Enter (or a click on
// the row outside its controls) opens the case page; the header box ticks every row.
(function () {
  "use strict";
  const rows = Array.from(document.querySelectorAll("#desk-list tbody tr[data-url]"));
  let current = -1;

  function select(index) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((row, i) => row.classList.toggle("desk-selected", i === current));
    rows[current].scrollIntoView({ block: "nearest" });
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(target.tagName));
  }

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
    if (event.key === "j") { select(current + 1); event.preventDefault(); }
    else if (event.key === "k") { select(current < 0 ? 0 : current - 1); event.preventDefault(); }
    else if (event.key === "Enter" && current >= 0) { window.location.href = rows[current].dataset.url; }
  });

  rows.forEach((row, i) => row.addEventListener("click", (event) => {
    if (event.target.closest("a, button, input, label, select, form")) return;
    select(i);
    window.location.href = row.dataset.url;
  }));

  const all = document.getElementById("desk-all");
  if (all) {
    all.addEventListener("change", () => {
      document.querySelectorAll('#desk-list input[name="case"]').forEach((box) => { box.checked = all.checked; });
    });
  }
})();
