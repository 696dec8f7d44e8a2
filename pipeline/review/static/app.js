// Keyboard triage and the box on the full frame. No framework; everything also works without this file.
(function () {
  "use strict";

  function submit(id) {
    var form = document.getElementById(id);
    if (form) { form.requestSubmit ? form.requestSubmit() : form.submit(); return true; }
    return false;
  }

  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }

  // --- the queue: j/k to move, Enter to open ---
  var rows = Array.prototype.slice.call(document.querySelectorAll("#queue tbody tr[data-href]"));
  var at = rows.length ? 0 : -1;
  function select(i) {
    if (!rows.length) return;
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, k) { r.classList.toggle("sel", k === at); });
    rows[at].scrollIntoView({ block: "nearest" });
  }
  if (rows.length) select(0);
  rows.forEach(function (r, k) {
    r.addEventListener("click", function (e) { if (e.target.tagName !== "A") { select(k); location.href = r.dataset.href; } });
  });

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var el = document.activeElement;
    if (e.key === "Escape") { if (typing(el)) el.blur(); return; }
    if (typing(el)) {
      // Enter on the duplicate picker submits it (a select does not by itself).
      if (e.key === "Enter" && el.id === "dup-of") { e.preventDefault(); submit("act-duplicate"); }
      return;
    }
    var done = true;
    switch (e.key) {
      case "j": select(at + 1); break;
      case "k": select(at - 1); break;
      case "Enter": if (at >= 0 && rows.length) { location.href = rows[at].dataset.href; } else { done = false; } break;
      case "n": done = submit("claim-next"); break;
      case "a": done = submit("act-claim"); break;
      case "c": done = submit("act-confirm"); break;
      case "u": done = submit("act-release"); break;
      case "r": var reason = document.getElementById("reason"); if (reason) { reason.focus(); } else { done = false; } break;
      case "d": var dup = document.getElementById("dup-of"); if (dup) { dup.focus(); } else { done = false; } break;
      case "q": location.href = "/queue"; break;
      case "?": var help = document.getElementById("help"); if (help) { help.classList.toggle("show"); } break;
      default: done = false;
    }
    if (done) e.preventDefault();
  });

  // --- the detection's box on the full frame, scaled to the shown size ---
  var frame = document.querySelector(".frame[data-box]");
  if (frame) {
    var img = frame.querySelector("img"), box = frame.querySelector(".box");
    var xyxy = frame.dataset.box.split(",").map(Number);
    var place = function () {
      if (!img.naturalWidth) return;
      var s = img.clientWidth / img.naturalWidth;
      box.style.left = (xyxy[0] * s) + "px";
      box.style.top = (xyxy[1] * s) + "px";
      box.style.width = Math.max(4, (xyxy[2] - xyxy[0]) * s) + "px";
      box.style.height = Math.max(4, (xyxy[3] - xyxy[1]) * s) + "px";
      box.hidden = false;
    };
    if (img.complete) place(); else img.addEventListener("load", place);
    window.addEventListener("resize", place);
  }
})();
