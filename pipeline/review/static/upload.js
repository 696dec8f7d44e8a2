// Upload with a progress bar: the same form, sent by XHR to the JSON API with the CSRF header. The button is
// off while it runs; once every byte has left, "checking" until the server's answer; then the files it kept.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData) return;
  var out = document.getElementById("upload-result");
  var bar = document.getElementById("progress");
  var state = document.getElementById("upload-state");
  var button = form.querySelector("button[type=submit]");
  var words = JSON.parse(document.getElementById("upload-words").textContent);
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
  function list(title, items, id) {
    out.appendChild(el("h2", "", title));
    var ul = el("ul", "refused"); ul.id = id;
    items.forEach(function (x) { ul.appendChild(x); });
    out.appendChild(ul);
  }
  function size(n) { return n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB"; }
  function busy(on) { button.disabled = on; form.classList.toggle("busy", on); }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (button.disabled) return;
    var data = new FormData();
    data.append("label", document.getElementById("label").value);
    ["files", "folder"].forEach(function (id) {
      Array.prototype.forEach.call(document.getElementById(id).files, function (f) {
        data.append("files", f, f.webkitRelativePath || f.name); // keep the folder's layout
      });
    });
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/uploads");
    xhr.setRequestHeader("X-CSRF-Token", document.querySelector("meta[name=csrf-token]").content);
    xhr.setRequestHeader("Accept", "application/json");
    busy(true);
    out.textContent = "";
    bar.hidden = false; bar.value = 0;
    state.textContent = words.sending;
    xhr.upload.onprogress = function (ev) {
      if (!ev.lengthComputable) return;
      bar.value = 100 * ev.loaded / ev.total;
      state.textContent = words.sending + " " + Math.floor(bar.value) + "%";
    };
    xhr.upload.onload = function () {
      bar.removeAttribute("value"); // indeterminate: the server hashes and checks every file now
      state.textContent = words.checking;
    };
    xhr.onload = function () {
      busy(false);
      state.textContent = "";
      bar.hidden = true;
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = { detail: xhr.statusText }; }
      if (xhr.status === 201) {
        out.appendChild(el("p", "ok", words.done.replace("{f}", body.flight_id).replace("{n}", body.files.length)));
        list(words.accepted, body.files.map(function (f) {
          var li = el("li"); li.appendChild(el("code", "", f.name)); li.appendChild(document.createTextNode(" · " + (words.kinds[f.kind] || f.kind) + " · " + size(f.size_bytes))); return li;
        }), "accepted");
        if (body.refused.length) {
          list(words.refusedTitle, body.refused.map(function (r) {
            var li = el("li"); li.appendChild(el("code", "", r.name)); li.appendChild(document.createTextNode(": " + (r.reason_shown || r.reason))); return li;
          }), "refused");
        }
        var p = el("p", "hint"); var a = el("a", "", words.later); a.href = "/flights"; p.appendChild(a); out.appendChild(p);
        form.reset();
      } else {
        out.appendChild(el("p", "error", words.refused + ": " + (body.message || (typeof body.detail === "string" ? body.detail : xhr.status))));
      }
    };
    xhr.onerror = function () { busy(false); state.textContent = ""; bar.hidden = true; out.textContent = ""; out.appendChild(el("p", "error", words.refused)); };
    xhr.send(data);
  });
})();
