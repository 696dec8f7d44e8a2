// Keyboard triage, the frame viewer (zoom, pan, the box in view), other sightings, claim countdowns.
// No framework; every action is also a plain form that works without this file.
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  function submit(id, button) {
    var form = $(id);
    if (!form) return false;
    if (form.requestSubmit) { form.requestSubmit(button || undefined); } else { form.submit(); }
    return true;
  }

  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }

  // "Legal: remember it" applies to a preset reason as well as a typed one.
  var remember = $("remember-legal"), rememberPreset = $("remember-preset");
  if (remember && rememberPreset) remember.addEventListener("change", function () {
    rememberPreset.value = remember.checked ? "1" : "";
  });

  // A form submits once: a second key press while the page is changing does nothing.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.dataset.sent) { e.preventDefault(); return; }
    if (form.id === "act-reject") {
      var reason = $("reason");
      if (reason && !reason.value.trim()) { e.preventDefault(); reason.focus(); return; }
    }
    form.dataset.sent = "1";
  }, true);

  // --- the queue: j/k to move, Enter to open, x ticks a row for bulk dispatch ---
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
    r.addEventListener("click", function (e) {
      var tag = e.target.tagName;
      if (tag === "A" || tag === "INPUT" || tag === "LABEL") return;
      select(k); location.href = r.dataset.href;
    });
  });
  var all = $("select-all");
  if (all) all.addEventListener("change", function () {
    document.querySelectorAll("input[name=ids]").forEach(function (b) { b.checked = all.checked; });
  });

  // --- the frame viewer ---
  var viewer = (function () {
    var port = $("viewport");
    if (!port) return null;
    var stage = $("stage"), img = $("frame-img"), box = stage.querySelector(".box");
    var xyxy = port.dataset.box ? port.dataset.box.split(",").map(Number) : null;
    var s = 1, x = 0, y = 0, fit = 1;
    function apply() {
      stage.style.transform = "translate(" + x + "px," + y + "px) scale(" + s + ")";
      if (xyxy) {
        box.style.left = xyxy[0] + "px"; box.style.top = xyxy[1] + "px";
        box.style.width = Math.max(2, xyxy[2] - xyxy[0]) + "px"; box.style.height = Math.max(2, xyxy[3] - xyxy[1]) + "px";
        box.style.borderWidth = (3 / s) + "px";
        box.hidden = false;
      }
    }
    function clamp() {
      var w = img.naturalWidth * s, h = img.naturalHeight * s, pw = port.clientWidth, ph = port.clientHeight;
      x = w <= pw ? (pw - w) / 2 : Math.min(0, Math.max(pw - w, x));
      y = h <= ph ? (ph - h) / 2 : Math.min(0, Math.max(ph - h, y));
    }
    function whole() {
      fit = Math.min(port.clientWidth / img.naturalWidth, port.clientHeight / img.naturalHeight);
      s = fit; x = 0; y = 0; clamp(); apply();
    }
    // The box in the middle, large enough to judge (a third of the view), never below the whole frame.
    function toBox() {
      if (!img.naturalWidth) return;
      fit = Math.min(port.clientWidth / img.naturalWidth, port.clientHeight / img.naturalHeight);
      if (!xyxy) { whole(); return; }
      var bw = Math.max(8, xyxy[2] - xyxy[0]), bh = Math.max(8, xyxy[3] - xyxy[1]);
      s = Math.max(fit, Math.min(port.clientWidth / (3 * bw), port.clientHeight / (3 * bh), 4));
      x = port.clientWidth / 2 - s * (xyxy[0] + xyxy[2]) / 2;
      y = port.clientHeight / 2 - s * (xyxy[1] + xyxy[3]) / 2;
      clamp(); apply();
    }
    function zoom(f, cx, cy) {
      if (!img.naturalWidth) return;
      cx = cx === undefined ? port.clientWidth / 2 : cx; cy = cy === undefined ? port.clientHeight / 2 : cy;
      var ns = Math.max(fit, Math.min(8, s * f));
      x = cx - (cx - x) * ns / s; y = cy - (cy - y) * ns / s; s = ns;
      clamp(); apply();
    }
    port.addEventListener("wheel", function (e) {
      e.preventDefault();
      var r = port.getBoundingClientRect();
      zoom(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    var drag = null;
    port.addEventListener("pointerdown", function (e) { drag = { x: e.clientX - x, y: e.clientY - y }; port.setPointerCapture(e.pointerId); port.classList.add("grab"); });
    port.addEventListener("pointermove", function (e) { if (!drag) return; x = e.clientX - drag.x; y = e.clientY - drag.y; clamp(); apply(); });
    port.addEventListener("pointerup", function () { drag = null; port.classList.remove("grab"); });
    port.addEventListener("dblclick", function (e) { var r = port.getBoundingClientRect(); zoom(2, e.clientX - r.left, e.clientY - r.top); });
    $("zoom-in").addEventListener("click", function () { zoom(1.5); });
    $("zoom-out").addEventListener("click", function () { zoom(1 / 1.5); });
    $("zoom-box").addEventListener("click", toBox);
    $("zoom-all").addEventListener("click", whole);
    if (img.complete && img.naturalWidth) toBox(); else img.addEventListener("load", toBox);
    window.addEventListener("resize", toBox);
    return {
      zoom: zoom, toBox: toBox, whole: whole,
      show: function (src, boxText) {
        xyxy = boxText ? boxText.split(",").map(Number) : null;
        if (img.getAttribute("src") === src) { toBox(); return; }
        img.addEventListener("load", function once() { img.removeEventListener("load", once); toBox(); });
        img.src = src;
      },
      state: function () { return { s: s, x: x, y: y, fit: fit }; }
    };
  })();
  window.patrolViewer = viewer;

  // --- other sightings: a click shows that sighting's crop and frame ---
  Array.prototype.forEach.call(document.querySelectorAll(".strip .sighting"), function (b) {
    b.addEventListener("click", function () {
      document.querySelectorAll(".strip .sighting").forEach(function (o) { o.classList.toggle("on", o === b); });
      var crop = $("crop-img");
      if (crop && b.dataset.crop) crop.src = b.dataset.crop;
      if (viewer && b.dataset.frame) viewer.show(b.dataset.frame, b.dataset.box);
      var name = $("frame-name"); if (name) name.textContent = b.dataset.file + " · " + b.dataset.caption;
      var full = $("full-res"); if (full && b.dataset.frame) full.href = b.dataset.frame;
    });
  });
  // a duplicate candidate's thumbnail picks it in the list
  Array.prototype.forEach.call(document.querySelectorAll(".dups .dup"), function (a) {
    a.addEventListener("click", function (e) {
      var pick = $("dup-of");
      if (pick && !e.ctrlKey && !e.metaKey) { e.preventDefault(); pick.value = a.dataset.id; pick.focus(); }
    });
  });

  // --- claims run out visibly ---
  var lease = $("lease");
  function tick() {
    if (!lease || !lease.dataset.until) return;
    var ms = new Date(lease.dataset.until).getTime() - Date.now();
    if (ms <= 0) { lease.textContent = lease.dataset.expired; lease.classList.add("expired"); return; }
    lease.textContent = lease.dataset.left.replace("{m}", Math.ceil(ms / 60000));
  }
  if (lease) { tick(); setInterval(tick, 15000); }

  // --- keys ---
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var el = document.activeElement;
    if (e.key === "Escape") { if (typing(el)) el.blur(); return; }
    if (typing(el)) {
      // Enter on a picker submits its form (a select does not by itself).
      if (e.key === "Enter" && el.id === "dup-of") { e.preventDefault(); submit("act-duplicate"); }
      if (e.key === "Enter" && el.id === "dispatch-dept") { e.preventDefault(); submit("act-dispatch"); }
      return;
    }
    var done = true;
    if (/^[1-9]$/.test(e.key)) {
      var preset = $("preset-" + e.key);
      if (preset) { submit("act-preset", preset); } else { done = false; }
      if (done) e.preventDefault();
      return;
    }
    switch (e.key) {
      case "j": select(at + 1); break;
      case "k": select(at - 1); break;
      case "Enter": if (at >= 0 && rows.length) { location.href = rows[at].dataset.href; } else { done = false; } break;
      case "n": done = submit("claim-next"); break;
      case "a": done = submit("act-claim"); break;
      case "c": done = submit("act-confirm"); break;
      case "u": done = submit("act-release"); break;
      case "z": done = submit("act-undo"); break;
      case "r": var reason = $("reason"); if (reason) { reason.focus(); } else { done = false; } break;
      case "d": var dup = $("dup-of"); if (dup) { dup.focus(); } else { done = false; } break;
      case "p": var dept = $("dispatch-dept"); if (dept) { dept.focus(); } else { done = false; } break;
      case "v": done = submit("act-resolve"); break;
      case "x": done = submit("act-close"); break;
      case "b": if (viewer) { viewer.toBox(); } else { done = false; } break;
      case "+": case "=": if (viewer) { viewer.zoom(1.5); } else { done = false; } break;
      case "-": if (viewer) { viewer.zoom(1 / 1.5); } else { done = false; } break;
      case "0": if (viewer) { viewer.whole(); } else { done = false; } break;
      case "q": var back = document.querySelector("a.back"); location.href = back ? back.href : "/queue"; break;
      case "?": var help = $("help"); if (help) { help.classList.toggle("show"); } break;
      default: done = false;
    }
    if (done) e.preventDefault();
  });
})();
