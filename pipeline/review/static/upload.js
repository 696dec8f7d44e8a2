// Upload with a progress bar: the same form, sent by XHR to the JSON API with the CSRF header.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData) return;
  var out = document.getElementById("upload-result");
  var bar = document.getElementById("progress");
  function line(cls, text) { var p = document.createElement("p"); p.className = cls; p.textContent = text; return p; }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
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
    bar.hidden = false; bar.value = 0;
    xhr.upload.onprogress = function (ev) { if (ev.lengthComputable) bar.value = 100 * ev.loaded / ev.total; };
    xhr.onload = function () {
      out.textContent = "";
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = { detail: xhr.statusText }; }
      if (xhr.status === 201) {
        bar.value = 100;
        out.appendChild(line("ok", out.dataset.done.replace("{f}", body.flight_id).replace("{n}", body.files.length)));
        if (body.refused.length) {
          var h = document.createElement("h2"); h.textContent = out.dataset.colRefused; out.appendChild(h);
          var ul = document.createElement("ul"); ul.className = "refused";
          body.refused.forEach(function (r) { var li = document.createElement("li"); li.textContent = r.name + ": " + r.reason; ul.appendChild(li); });
          out.appendChild(ul);
        }
        form.reset();
      } else {
        out.appendChild(line("error", out.dataset.refused + ": " + (typeof body.detail === "string" ? body.detail : xhr.status)));
      }
    };
    xhr.onerror = function () { out.textContent = ""; out.appendChild(line("error", out.dataset.refused)); };
    xhr.send(data);
  });
})();
