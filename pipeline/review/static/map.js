// The map: configured tiles (Tianditu, an internal server) or, with none, a plain coordinate grid.
// Coordinates arrive already in the tiles' datum (GCJ-02 for AMap-style tiles), so nothing is converted here.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var casesEl = document.getElementById("map-cases");
  var cases = casesEl ? JSON.parse(casesEl.textContent) : null;
  var wordsEl = document.getElementById("map-words");
  var words = wordsEl ? JSON.parse(wordsEl.textContent) : {};
  var map = L.map(el, { zoomControl: true, attributionControl: !!cfg.tiles });
  if (cfg.tiles) {
    L.tileLayer(cfg.tiles, { subdomains: cfg.subdomains || "abc", attribution: cfg.attribution || "", maxZoom: 19 }).addTo(map);
  } else {
    var note = document.getElementById("grid-note");
    if (note) note.hidden = false;
    el.classList.add("gridmap");
  }
  var colours = { new: "#d9480f", in_review: "#f08c00", confirmed: "#c92a2a", dispatched: "#5f3dc4", resolved: "#2b8a3e" };
  var layer = L.featureGroup().addTo(map);
  if (cases) {
    cases.features.forEach(function (f) {
      var p = f.properties, c = f.geometry.coordinates;
      var m = L.circleMarker([c[1], c[0]], { radius: 7, color: colours[p.status] || "#333", weight: 2, fillOpacity: 0.6 });
      var a = document.createElement("a");
      a.href = "/cases/" + p.id;
      a.textContent = "#" + p.id + " " + p.category + " · " + (words[p.status] || p.status);
      m.bindPopup(a);
      m.addTo(layer);
    });
  } else if (cfg.centre) {
    L.circleMarker(cfg.centre, { radius: 8, color: "#c92a2a", weight: 3, fillOpacity: 0.5 }).addTo(layer);
  }
  if (layer.getLayers().length) {
    map.fitBounds(layer.getBounds().pad(0.3), { maxZoom: 17 });
  } else {
    map.setView([23.02, 113.75], 12); // Dongguan
  }
  if (!cfg.tiles) drawGrid(map);

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
