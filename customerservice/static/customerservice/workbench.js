// The workbench's pages: the time left to reply, counting down every second.
// Each [data-due] element holds its reply due (ISO 8601); the server's "now" on the page corrects
// a client clock that is off. Format as the server writes it: hours:minutes:seconds; red within
// the at-risk window, and "overdue" once past the due. On the reply form: the refused part is
// selected, and the send button is disabled once clicked (the server ignores a second post anyway).
(function () {
  "use strict";
  var settings = JSON.parse(document.getElementById("cs-clock-settings").textContent);
  var holder = document.querySelector("[data-now]");
  var skew = holder ? Date.parse(holder.dataset.now) - Date.now() : 0;
  var clocks = Array.prototype.slice.call(document.querySelectorAll(".cs-clock[data-due]"));

  function two(n) { return n < 10 ? "0" + n : String(n); }

  function format(seconds) {
    return Math.floor(seconds / 3600) + ":" + two(Math.floor(seconds / 60) % 60) + ":" + two(seconds % 60);
  }

  function tick() {
    var now = Date.now() + skew;
    clocks.forEach(function (clock) {
      var left = Math.floor((Date.parse(clock.dataset.due) - now) / 1000);
      var overdue = left < 0;
      var urgency = overdue ? "overdue" : (left <= settings.urgentSeconds ? "urgent" : "");
      clock.textContent = (overdue ? settings.overdue + " " : "") + format(Math.abs(left));
      var row = clock.closest("tr, .cs-status") || clock;
      row.classList.toggle("cs-overdue", urgency === "overdue");
      row.classList.toggle("cs-urgent", urgency === "urgent");
    });
  }

  if (clocks.length) {
    tick();
    window.setInterval(tick, 1000);
  }

  // A refused reply: put the cursor on the part that broke the rule (offsets in code points).
  var text = document.querySelector("textarea[data-start]");
  if (text) {
    var chars = Array.from(text.value);
    var start = chars.slice(0, Number(text.dataset.start)).join("").length;
    var end = chars.slice(0, Number(text.dataset.end)).join("").length;
    text.focus();
    text.setSelectionRange(start, end);
  }

  var form = document.getElementById("reply-form");
  if (form) {
    var send = form.querySelector("[type=submit]");
    form.addEventListener("submit", function () { window.setTimeout(function () { send.disabled = true; }, 0); });
    window.addEventListener("pageshow", function () { send.disabled = false; });
  }
})();
