// The map: configured tiles (Tianditu, an internal server) or, with none, a plain coordinate grid.
// Coordinates arrive already in the tiles' datum (GCJ-02 for AMap-style tiles), so nothing is converted here.
// Every case the filter matches is drawn: nearby ones are gathered into counted clusters (by screen cell,
// recomputed as the view changes), never dropped.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  function json(id) { var n = document.getElementById(id); return n ? JSON.parse(n.textContent) : null; }
  var cfg = json("map-config");
  var pointsUrl = el.dataset.points;
  var words = json("map-words") || { states: {}, classes: {} };
  var footprints = json("map-footprints") || [];
  var map = L.map(el, { zoomControl: true, attributionControl: !!cfg.tiles, maxZoom: 20 });
  if (cfg.tiles) {
    L.tileLayer(cfg.tiles, { subdomains: cfg.subdomains || "abc", attribution: cfg.attribution || "", maxZoom: 19 }).addTo(map);
  } else {
    var note = document.getElementById("grid-note");
    if (note) note.hidden = false;
    el.classList.add("gridmap");
  }
  var colours = { new: "#d9480f", in_review: "#f08c00", confirmed: "#c92a2a", dispatched: "#5f3dc4", resolved: "#2b8a3e", closed: "#2b8a3e", rejected: "#868e96", duplicate: "#868e96" };

  var bounds = null;
  if (cfg.centre) {
    var here = L.circleMarker(cfg.centre, { radius: 8, color: "#c92a2a", weight: 3, fillOpacity: 0.5 }).addTo(map);
    bounds = L.latLngBounds([cfg.centre, cfg.centre]);
    (cfg.nearby || []).forEach(function (n) {
      var m = L.circleMarker([n.lat, n.lon], { radius: 6, color: "#495057", weight: 2, fillOpacity: 0.3, dashArray: "3" }).addTo(map);
      m.bindTooltip("#" + n.id + " · " + n.d + " m");
      m.on("click", function () { location.href = "/cases/" + n.id; });
      bounds.extend([n.lat, n.lon]);
    });
    here.bringToFront();
  }
  if (footprints.length) drawFootprints(footprints);
  fit();
  if (!cfg.tiles) drawGrid(map);
  if (pointsUrl) {
    // The points arrive on their own (cached on the server per state of the cases, revalidated here).
    fetch(pointsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (payload) {
        // Fitted at once (no animation), then drawn: the clusters counted are those of the final view.
        var redraw = drawCases(decode(payload));
        fit(false);
        map.on("moveend", redraw);
        redraw();
      })
      .catch(function () {
        var total = document.getElementById("map-total");
        if (total) { total.textContent = words.failed || "!"; total.className = "error"; }
        el.dataset.drawn = "-1";
      });
  }

  function fit(animate) {
    if (bounds && bounds.isValid()) {
      map.fitBounds(bounds.pad(0.3), { maxZoom: 17, animate: animate !== false });
    } else {
      map.setView([23.02, 113.75], 12, { animate: animate !== false }); // Dongguan
    }
  }

  // The compact payload (pipeline/review/map_data.py): ids as differences, micro-degrees above an origin.
  function decode(p) {
    var n = p.n, id = new Array(n), lat = new Float64Array(n), lon = new Float64Array(n), last = 0;
    for (var i = 0; i < n; i++) {
      last += p.id[i]; id[i] = last;
      lat[i] = (p.origin[0] + p.lat[i]) / 1e6;
      lon[i] = (p.origin[1] + p.lon[i]) / 1e6;
    }
    var total = document.getElementById("map-total");
    if (total && Number(total.dataset.n) !== n && words.count) {
      total.textContent = words.count.replace("{n}", n); // a case changed between the page and its points
      total.dataset.n = n;
    }
    return { id: id, lat: lat, lon: lon, status: p.status, "class": p["class"], states: p.states, classes: p.classes };
  }

  function drawCases(d) {
    var n = d.id.length, layer = L.layerGroup().addTo(map);
    for (var i = 0; i < n; i++) {
      if (!bounds) bounds = L.latLngBounds([d.lat[i], d.lon[i]], [d.lat[i], d.lon[i]]); else bounds.extend([d.lat[i], d.lon[i]]);
    }
    var CELL = 56;
    function single(i) {
      var st = d.states[d.status[i]];
      var m = L.circleMarker([d.lat[i], d.lon[i]], { radius: 7, color: colours[st] || "#333", weight: 2, fillOpacity: 0.6 });
      var a = document.createElement("a");
      a.href = "/cases/" + d.id[i];
      a.textContent = "#" + d.id[i] + " " + (words.classes[d.classes[d.class[i]]] || d.classes[d.class[i]]) + " · " + (words.states[st] || st);
      m.bindPopup(a);
      return m;
    }
    function cluster(members) {
      var lat = 0, lon = 0, count = {}, top = null;
      members.forEach(function (i) {
        lat += d.lat[i]; lon += d.lon[i];
        var st = d.states[d.status[i]];
        count[st] = (count[st] || 0) + 1;
        if (!top || count[st] > count[top]) top = st;
      });
      var size = members.length < 10 ? 26 : members.length < 100 ? 32 : members.length < 1000 ? 40 : 48;
      var icon = L.divIcon({
        className: "", iconSize: [size, size],
        html: '<div class="cluster" style="width:' + size + "px;height:" + size + "px;background:" + (colours[top] || "#333") + '">' + members.length + "</div>"
      });
      var m = L.marker([lat / members.length, lon / members.length], { icon: icon, title: members.length + " " + words.cases });
      m.on("click", function () {
        var b = L.latLngBounds(members.map(function (i) { return [d.lat[i], d.lon[i]]; }));
        if (map.getZoom() >= map.getMaxZoom() - 1 || b.getNorthEast().equals(b.getSouthWest())) {
          map.setView(b.getCenter(), map.getMaxZoom());
        } else {
          map.fitBounds(b.pad(0.2));
        }
      });
      return m;
    }
    function redraw() {
      layer.clearLayers();
      var view = map.getBounds().pad(0.25), z = map.getZoom(), cells = {};
      for (var i = 0; i < n; i++) {
        if (!view.contains([d.lat[i], d.lon[i]])) continue;
        var p = map.project([d.lat[i], d.lon[i]], z);
        var key = Math.floor(p.x / CELL) + ":" + Math.floor(p.y / CELL);
        (cells[key] = cells[key] || []).push(i);
      }
      Object.keys(cells).forEach(function (k) {
        var members = cells[k];
        if (members.length === 1 || z >= map.getMaxZoom()) {
          members.forEach(function (i) { layer.addLayer(single(i)); });
        } else {
          layer.addLayer(cluster(members));
        }
      });
      el.dataset.drawn = layer.getLayers().length;
    }
    legend(d);
    return redraw;
  }

  function drawFootprints(list) {
    var fp = L.featureGroup();
    list.forEach(function (f) {
      L.polygon(f.ring, { color: "#1c5fb8", weight: 1, fillOpacity: 0.06, interactive: true }).bindTooltip(f.flight + " · " + f.file).addTo(fp);
    });
    fp.addTo(map);
    if (!bounds) bounds = fp.getBounds(); else bounds.extend(fp.getBounds());
    var overlays = {}; overlays[words.footprints || "footprints"] = fp;
    L.control.layers(null, overlays, { collapsed: false, position: "topright" }).addTo(map);
  }

  function legend(d) {
    var ctl = L.control({ position: "bottomright" });
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "legend");
      div.id = "legend";
      var counts = {};
      d.status.forEach(function (s) { counts[s] = (counts[s] || 0) + 1; });
      Object.keys(counts).forEach(function (k) {
        var st = d.states[k], row = document.createElement("div"), dot = document.createElement("i");
        dot.style.background = colours[st] || "#333";
        row.appendChild(dot);
        row.appendChild(document.createTextNode((words.states[st] || st) + " " + counts[k]));
        div.appendChild(row);
      });
      var c = document.createElement("div");
      c.textContent = words.cluster || "";
      div.appendChild(c);
      if (footprints.length) {
        var r = document.createElement("div"), sq = document.createElement("i");
        sq.className = "fp"; r.appendChild(sq); r.appendChild(document.createTextNode(words.footprints || ""));
        div.appendChild(r);
      }
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    ctl.addTo(map);
  }

  // Lines every "nice" step of latitude/longitude, redrawn as the view changes, labelled at the edges.
  function drawGrid(m) {
    var grid = L.layerGroup().addTo(m);
    function redraw() {
      grid.clearLayers();
      var b = m.getBounds(), span = Math.max(b.getEast() - b.getWest(), b.getNorth() - b.getSouth());
      var steps = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];
      var step = steps.find(function (s) { return span / s <= 8; }) || 10;
      var digits = Math.max(0, -Math.floor(Math.log10(step)));
      var style = { color: "#8aa", weight: 1, opacity: 0.6, interactive: false };
      for (var x = Math.floor(b.getWest() / step) * step; x <= b.getEast(); x += step) {
        grid.addLayer(L.polyline([[b.getSouth(), x], [b.getNorth(), x]], style));
        grid.addLayer(L.marker([b.getSouth(), x], { icon: L.divIcon({ className: "gridlabel", html: x.toFixed(digits) + "°E", iconSize: null, iconAnchor: [-2, 14] }), interactive: false }));
      }
      for (var y = Math.floor(b.getSouth() / step) * step; y <= b.getNorth(); y += step) {
        grid.addLayer(L.polyline([[y, b.getWest()], [y, b.getEast()]], style));
        grid.addLayer(L.marker([y, b.getWest()], { icon: L.divIcon({ className: "gridlabel", html: y.toFixed(digits) + "°N", iconSize: null, iconAnchor: [-2, -2] }), interactive: false }));
      }
    }
    m.on("moveend", redraw);
    redraw();
  }
})();
