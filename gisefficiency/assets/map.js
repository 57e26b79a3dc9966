/* gisefficiency map: builds every layer, popup, legend and tool from one embedded payload.
 *
 * The payload (see gisefficiency/maps/) carries the parcel geometries once, delta-encoded, and each parcel
 * layer as an array of class codes. Layers are built on first display, styled from their codes; every text
 * from data is put in the page with textContent, never as HTML.
 */
(function (global) {
  'use strict';

  var SCALE = 1e6;

  function decode(enc) {
    // -> {geoms: [[ring, ...] per polygon, ...] per geometry, boxes: [[s, w, n, e]]}
    var c = enc.c, r = enc.r, p = enc.p, g = enc.g;
    var x = 0, y = 0, k = 0, ri = 0, pi = 0;
    var geoms = new Array(g.length), boxes = new Array(g.length);
    for (var gi = 0; gi < g.length; gi++) {
      var polys = new Array(g[gi]);
      var s = 90, w = 180, n = -90, e = -180;
      for (var a = 0; a < g[gi]; a++, pi++) {
        var rings = new Array(p[pi]);
        for (var b = 0; b < p[pi]; b++, ri++) {
          var ring = new Array(r[ri]);
          for (var v = 0; v < r[ri]; v++) {
            x += c[k++]; y += c[k++];
            var lat = y / SCALE, lon = x / SCALE;
            ring[v] = L.latLng(lat, lon);
            if (lat < s) { s = lat; } if (lat > n) { n = lat; }
            if (lon < w) { w = lon; } if (lon > e) { e = lon; }
          }
          rings[b] = ring;
        }
        polys[a] = rings;
      }
      geoms[gi] = polys.length === 1 ? polys[0] : polys;
      boxes[gi] = [[s, w], [n, e]];
    }
    return {geoms: geoms, boxes: boxes};
  }

  function el(tag, cls, text, parent) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function fmt(v, digits) {
    if (v === null || v === undefined || (typeof v === 'number' && !isFinite(v))) { return null; }
    return typeof v === 'number' ? v.toFixed(digits) : String(v);
  }

  function column(table, name, i) {
    var col = table[name];
    if (!col) { return null; }
    if (col.codes) { var code = col.codes[i]; return code < 0 ? null : col.cats[code]; }
    return col[i];
  }

  function mark(name) { if (global.performance && performance.mark) { performance.mark(name); } }

  function init(map, data) {
    mark('gise-init');
    var T = data.text;
    var P = data.parcels, F = data.firms || {};
    var renderer = L.canvas({padding: 0.2});
    var decoded = P ? decode(P.geom) : {geoms: [], boxes: []};
    mark('gise-decoded');
    var firmStart = null;
    if (P && P.firm_count) {
      firmStart = new Array(P.firm_count.length + 1); firmStart[0] = 0;
      for (var i = 0; i < P.firm_count.length; i++) { firmStart[i + 1] = firmStart[i] + P.firm_count[i]; }
    }
    var state = {map: map, data: data, layers: {}, overlays: {}, visible: {}, ready: false};
    global.GISE = state;

    function row(table, key, value, unit) {
      if (value === null || value === undefined || value === '') { return; }
      var tr = el('tr', null, null, table);
      el('th', null, T[key] || key, tr);
      el('td', null, unit ? value + ' ' + unit : value, tr);
    }

    function parcelPopup(i) {
      var box = el('div', 'gise-popup');
      el('div', 'gise-popup-title', T.parcel + ' ' + column(P, 'id', i), box);
      var t = el('table', null, null, box);
      row(t, 'street', column(P, 'street', i));
      row(t, 'land_use', column(P, 'land_use', i));
      row(t, 'land_mu', fmt(column(P, 'land_mu', i), 2));
      row(t, 'area_mu', fmt(column(P, 'area_mu', i), 2));
      row(t, 'grade', column(P, 'grade', i));
      row(t, 'tax_per_mu', fmt(column(P, 'tax_per_mu', i), 2), T.wan_per_mu);
      row(t, 'va_per_mu', fmt(column(P, 'va_per_mu', i), 2), T.wan_per_mu);
      row(t, 'disposal', column(P, 'disposal', i));
      row(t, 'reason', column(P, 'reason', i));
      var blk = column(P, 'block_id', i);
      if (blk !== null) {
        var role = column(P, 'block_role', i);
        row(t, 'block_id', blk + (role ? ' (' + (T['block_role_' + role] || role) + ')' : ''));
      }
      if (P.in_scenario && P.in_scenario[i]) { row(t, 'layer_scenario', T.yes); }
      if (firmStart) {
        var a = firmStart[i], b = firmStart[i + 1];
        el('div', 'gise-popup-sub', T.firms_on_parcel + ' (' + (b - a) + ')', box);
        if (a === b) { el('div', 'gise-popup-none', T.no_firm, box); }
        for (var k = a; k < b && k < a + 20; k++) {
          var f = P.firm_index[k];
          var ft = el('table', 'gise-firm', null, box);
          row(ft, 'name', column(F, 'name', f));
          row(ft, 'uscc', column(F, 'uscc', f));
          row(ft, 'grade', column(F, 'grade', f));
          row(ft, 'tax_per_mu', fmt(column(F, 'tax_per_mu', f), 2), T.wan_per_mu);
          row(ft, 'va_per_mu', fmt(column(F, 'va_per_mu', f), 2), T.wan_per_mu);
          row(ft, 'land_mu', fmt(column(F, 'land_mu', f), 2));
          row(ft, 'disposal', column(F, 'disposal', f));
          row(ft, 'reason', column(F, 'reason', f));
        }
      }
      return box;
    }

    function tipFor(i) {
      var name = T.parcel + ' ' + column(P, 'id', i);
      var g = column(P, 'grade', i), tx = fmt(column(P, 'tax_per_mu', i), 2);
      return name + (g ? ' · ' + g : '') + (tx !== null ? ' · ' + tx + ' ' + T.wan_per_mu : '');
    }

    var hoverTip = L.tooltip({sticky: true, direction: 'top', opacity: 0.95});
    function wireParcelEvents(group) {
      group.on('click', function (e) {
        L.popup({maxWidth: 360, maxHeight: 360}).setLatLng(e.latlng)
          .setContent(parcelPopup(e.layer._gi)).openOn(map);
      });
      group.on('mouseover', function (e) {
        hoverTip.setLatLng(e.latlng).setContent(el('span', null, tipFor(e.layer._gi)));
        map.openTooltip(hoverTip);
      });
      group.on('mousemove', function (e) { hoverTip.setLatLng(e.latlng); });
      group.on('mouseout', function () { map.closeTooltip(hoverTip); });
    }

    function parcelLayer(spec) {
      var group = L.featureGroup();
      var codes = spec.codes, colours = spec.colours;
      var weight = spec.key === 'grade' || spec.key === 'tax' ? 0.4 : 1;
      for (var i = 0; i < codes.length; i++) {
        var code = codes[i];
        if (code < 0) { continue; }
        var poly = L.polygon(decoded.geoms[i], {
          renderer: renderer, color: '#4d4d4d', weight: weight, opacity: 0.8,
          fillColor: colours[code], fillOpacity: 0.75, smoothFactor: 0
        });
        poly._gi = i;
        group.addLayer(poly);
      }
      wireParcelEvents(group);
      return group;
    }

    function blockLayer(spec) {
      var dec = decode(spec.geom), group = L.featureGroup();
      for (var i = 0; i < dec.geoms.length; i++) {
        var poly = L.polygon(dec.geoms[i], {
          renderer: renderer, color: spec.colour, weight: 2.5, fill: true, fillOpacity: 0.05, smoothFactor: 0
        });
        var id = spec.attrs.id[i], area = spec.attrs.area_mu ? fmt(spec.attrs.area_mu[i], 1) : null;
        var label = T.block + ' ' + id + (area !== null ? ' · ' + area + ' ' + T.mu : '');
        poly.bindTooltip(el('span', null, label), {permanent: true, direction: 'center', className: 'gise-block-label'});
        var box = el('div', 'gise-popup');
        el('div', 'gise-popup-title', label, box);
        var t = el('table', null, null, box);
        row(t, 'n_parcels', spec.attrs.n_parcels ? fmt(spec.attrs.n_parcels[i], 0) : null);
        row(t, 'freed_mu', spec.attrs.freed_mu ? fmt(spec.attrs.freed_mu[i], 2) : null);
        poly.bindPopup(box);
        group.addLayer(poly);
      }
      return group;
    }

    function areaLayer(spec) {
      var dec = decode(spec.geom), group = L.featureGroup();
      for (var i = 0; i < dec.geoms.length; i++) {
        var code = spec.codes[i];
        var poly = L.polygon(dec.geoms[i], {
          renderer: renderer, color: '#333', weight: 1.2, fillColor: spec.colours[code], fillOpacity: 0.7
        });
        var box = el('div', 'gise-popup');
        el('div', 'gise-popup-title', spec.attrs.name[i], box);
        var t = el('table', null, null, box);
        row(t, 'tax_per_mu', fmt(spec.attrs.tax_per_mu[i], 2), T.wan_per_mu);
        row(t, 'land_mu', fmt(spec.attrs.land_mu[i], 1));
        row(t, 'n_parcels', fmt(spec.attrs.n_parcels[i], 0));
        poly.bindPopup(box);
        poly.bindTooltip(el('span', null, spec.attrs.name[i]), {sticky: true});
        group.addLayer(poly);
      }
      return group;
    }

    function builder(spec) {
      if (spec.kind === 'parcels') { return function () { return parcelLayer(spec); }; }
      if (spec.kind === 'blocks') { return function () { return blockLayer(spec); }; }
      if (spec.kind === 'areas') { return function () { return areaLayer(spec); }; }
      return function () { return L.imageOverlay(spec.url, spec.bounds, {opacity: spec.opacity || 0.8}); };
    }

    // A layer group that builds its content the first time it is shown, so hidden layers cost nothing.
    var Lazy = L.LayerGroup.extend({
      initialize: function (build) { L.LayerGroup.prototype.initialize.call(this); this._build = build; },
      onAdd: function (m) {
        if (this._build) { this.addLayer(this._build()); this._build = null; }
        L.LayerGroup.prototype.onAdd.call(this, m);
      }
    });

    // basemaps
    var bases = {}, firstBase = null;
    (data.basemaps || []).forEach(function (b) {
      var opts = {attribution: b.attribution, maxZoom: b.maxZoom, subdomains: b.subdomains || 'abc'};
      var layer = L.tileLayer(b.url, opts);
      if (b.labels) { layer = L.layerGroup([layer, L.tileLayer(b.labels, opts)]); }
      bases[b.name] = layer;
      if (!firstBase) { firstBase = layer; }
    });
    if (firstBase) { firstBase.addTo(map); }

    var overlays = {};
    data.layers.forEach(function (spec) {
      var layer = new Lazy(builder(spec));
      layer._spec = spec;
      state.layers[spec.key] = layer;
      overlays[spec.name] = layer;
    });
    state.control = L.control.layers(bases, overlays, {collapsed: false, position: 'topright'}).addTo(map);

    // legend: one block per visible layer that has classes; follows the layer control
    var legend = L.control({position: 'bottomright'});
    legend.onAdd = function () {
      this._div = el('div', 'gise-legend leaflet-control');
      L.DomEvent.disableClickPropagation(this._div);
      L.DomEvent.disableScrollPropagation(this._div);
      return this._div;
    };
    legend.update = function () {
      var div = this._div;
      div.textContent = '';
      var any = false;
      data.layers.forEach(function (spec) {
        if (!state.visible[spec.key] || !spec.labels) { return; }
        any = true;
        var sec = el('div', 'gise-legend-section', null, div);
        sec.setAttribute('data-layer', spec.key);
        el('div', 'gise-legend-title', spec.title || spec.name, sec);
        spec.labels.forEach(function (text, k) {
          var item = el('div', 'gise-legend-item', null, sec);
          var sw = el('span', spec.kind === 'blocks' ? 'gise-swatch gise-swatch-outline' : 'gise-swatch', null, item);
          if (spec.kind === 'blocks') { sw.style.borderColor = spec.colours[k]; } else { sw.style.background = spec.colours[k]; }
          el('span', null, text, item);
        });
      });
      div.style.display = any ? '' : 'none';
    };
    legend.addTo(map);
    state.legend = legend;
    map.on('overlayadd overlayremove', function (e) {
      var spec = e.layer._spec;
      if (spec) { state.visible[spec.key] = e.type === 'overlayadd'; legend.update(); }
    });

    data.layers.forEach(function (spec) {
      if (spec.show) { state.visible[spec.key] = true; state.layers[spec.key].addTo(map); }
    });
    legend.update();
    mark('gise-layers');

    L.control.scale({imperial: false, position: 'bottomleft'}).addTo(map);

    if (data.note) {
      var note = L.control({position: 'bottomleft'});
      note.onAdd = function () { return el('div', 'gise-note leaflet-control', data.note); };
      note.addTo(map);
    }

    // search: firms by name or USCC, parcels by id
    var highlight = L.featureGroup().addTo(map);
    var firmTargetCache = null;
    function firmTargets() {
      // per firm: the parcels it is on (positions), or one [lat, lon] point in the aggregated view
      if (firmTargetCache) { return firmTargetCache; }
      var n = (F.uscc || []).length, out = new Array(n), f;
      for (f = 0; f < n; f++) { out[f] = []; }
      if (firmStart) {
        for (var i = 0; i + 1 < firmStart.length; i++) {
          for (var k = firmStart[i]; k < firmStart[i + 1]; k++) { out[P.firm_index[k]].push(i); }
        }
      } else if (data.search && data.search.firm_lat) {
        var S = data.search;
        for (f = 0; f < n; f++) { if (S.firm_lat[f] !== null) { out[f] = [[S.firm_lat[f], S.firm_lon[f]]]; } }
      }
      firmTargetCache = out;
      return out;
    }
    function searchRecords(text) {
      var q = String(text || '').trim().toLowerCase(), out = {}, count = 0, limit = 30;
      if (!q) { return out; }
      var S = data.search || {};
      var names = F.name || [], usccs = F.uscc || [], where = firmTargets();
      for (var f = 0; f < usccs.length && count < limit; f++) {
        var nm = names[f] || '', us = usccs[f] || '';
        if (nm.toLowerCase().indexOf(q) >= 0 || us.toLowerCase().indexOf(q) >= 0) {
          var targets = where[f] || [];
          if (!targets.length) { continue; }
          var key = (nm ? nm + ' · ' : '') + us;
          var loc = L.latLng(0, 0); loc._gise = targets;
          out[key] = loc; count++;
        }
      }
      var ids = P ? P.id : (S.parcel_ids || []);
      for (var i = 0; i < ids.length && count < limit; i++) {
        if (ids[i] && String(ids[i]).toLowerCase().indexOf(q) >= 0) {
          var ploc = L.latLng(0, 0); ploc._gise = [P ? i : [S.parcel_lat[i], S.parcel_lon[i]]];
          out[T.parcel + ' ' + ids[i]] = ploc; count++;
        }
      }
      return out;
    }
    function targetBounds(targets) {
      var bounds = L.latLngBounds([]);
      targets.forEach(function (t) {
        if (typeof t === 'number' && decoded.boxes[t]) { bounds.extend(decoded.boxes[t]); }
        else if (t && t.length === 2) { bounds.extend(L.latLng(t[0], t[1])); }
      });
      return bounds;
    }
    function showTargets(targets) {
      highlight.clearLayers();
      var bounds = targetBounds(targets);
      if (!bounds.isValid()) { return false; }
      targets.forEach(function (t) {
        if (typeof t === 'number' && decoded.geoms[t]) {
          highlight.addLayer(L.polygon(decoded.geoms[t], {renderer: renderer, color: '#00e5ff', weight: 4, fill: false}));
        } else if (t && t.length === 2) {
          highlight.addLayer(L.circleMarker(L.latLng(t[0], t[1]), {renderer: renderer, radius: 9, color: '#00e5ff', weight: 4}));
        }
      });
      map.fitBounds(bounds.pad(0.5), {maxZoom: 18, animate: false});
      return true;
    }
    state.search = function (text) {
      var recs = searchRecords(text), keys = Object.keys(recs);
      if (keys.length) { showTargets(recs[keys[0]]._gise); }
      return keys;
    };
    state.parcelPopupText = function (i) { return parcelPopup(i).textContent; };
    if (L.Control.Search) {
      var search = new L.Control.Search({
        sourceData: function (text, done) { done(searchRecords(text)); return {abort: function () {}}; },
        formatData: function (recs) { return recs; },
        filterData: function (text, recs) { return recs; },
        buildTip: function (text) { return el('li', null, text); },
        moveToLocation: function (latlng) { showTargets(latlng._gise || []); },
        marker: false, initial: false, autoType: false, tooltipLimit: 30, delayType: 250, collapsed: false,
        textPlaceholder: T.search_placeholder, textErr: T.search_not_found, textCancel: T.search_cancel,
        position: 'topleft'
      });
      map.addControl(search);
      state.searchControl = search;
    }

    // draw: planners sketch scenario polygons and export them as GeoJSON
    if (L.Control.Draw) {
      if (data.draw_local) { mergeInto(L.drawLocal, data.draw_local); }
      var drawn = L.featureGroup().addTo(map);
      map.addControl(new L.Control.Draw({
        position: 'topleft',
        draw: {polyline: false, circle: false, circlemarker: false, marker: false,
               polygon: {allowIntersection: false, showArea: false}, rectangle: {showArea: false}},
        edit: {featureGroup: drawn}
      }));
      map.on(L.Draw.Event.CREATED, function (e) { drawn.addLayer(e.layer); });
      var exporter = L.control({position: 'topleft'});
      exporter.onAdd = function () {
        var a = el('a', 'gise-export leaflet-bar', T.export_geojson);
        a.href = '#'; a.setAttribute('role', 'button');
        L.DomEvent.disableClickPropagation(a);
        L.DomEvent.on(a, 'click', function (ev) {
          L.DomEvent.preventDefault(ev);
          var fc = drawn.toGeoJSON();
          if (!fc.features.length) { a.title = T.export_empty; return; }
          if (data.draw && data.draw.crs) { fc.coordinate_system = data.draw.crs; }
          var blob = new Blob([JSON.stringify(fc)], {type: 'application/geo+json'});
          var link = document.createElement('a');
          link.href = URL.createObjectURL(blob);
          link.download = (data.draw && data.draw.filename) || 'scenario.geojson';
          document.body.appendChild(link); link.click(); document.body.removeChild(link);
        });
        return a;
      };
      exporter.addTo(map);
      state.drawn = drawn;
    }

    if (data.bounds) { map.fitBounds(data.bounds); }
    // "painted": two animation frames after the visible layers were added, i.e. after the canvas drew them.
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        mark('gise-painted');
        state.ready = true;
      });
    });
    return state;
  }

  function mergeInto(target, src) {
    Object.keys(src).forEach(function (k) {
      if (src[k] && typeof src[k] === 'object' && target[k] && typeof target[k] === 'object') { mergeInto(target[k], src[k]); }
      else { target[k] = src[k]; }
    });
  }

  global.GiseMap = {init: init, decode: decode};
})(window);
