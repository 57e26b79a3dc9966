/* gisefficiency map: builds every layer, popup, legend and tool from one embedded payload.
 *
 * The payload (see gisefficiency/maps/) carries the parcel geometries once, delta-encoded, and each parcel
 * layer as an array of class codes. Layers are built on first display, styled from their codes; every text
 * from data is put in the page with textContent, never as HTML.
 *
 * Parcels are not one Leaflet polygon each: creating 20,000 L.Polygon objects took ~0.8 s of a 2 s paint.
 * The geometries are decoded once into typed arrays (projected to Leaflet's world coordinates), and each
 * thematic layer is ONE path (ParcelSet) in the shared canvas renderer that fills every class with one
 * Path2D and answers clicks and hovers through a grid index over the parcels' boxes.
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

  function decodeFlat(enc, crs) {
    // Typed arrays for many parcels: lon/lat and world coordinates (pixel = world * crs.scale(zoom) - pixel
    // origin) per vertex, ring/polygon/geometry start offsets, and each geometry's world box.
    var c = enc.c, nv = c.length / 2;
    var lonlat = new Float64Array(c.length), world = new Float64Array(c.length);
    var merc = crs === L.CRS.EPSG3857, MAXLAT = L.Projection.SphericalMercator.MAX_LATITUDE;
    var x = 0, y = 0, k, lat, lon, q;
    for (k = 0; k < nv; k++) {
      x += c[2 * k]; y += c[2 * k + 1];
      lon = x / SCALE; lat = y / SCALE;
      lonlat[2 * k] = lon; lonlat[2 * k + 1] = lat;
      if (merc) {  // L.CRS.EPSG3857 written out: no object per vertex
        var phi = Math.max(Math.min(lat, MAXLAT), -MAXLAT) * Math.PI / 180;
        world[2 * k] = lon / 360 + 0.5;
        world[2 * k + 1] = 0.5 - Math.log(Math.tan(Math.PI / 4 + phi / 2)) / (2 * Math.PI);
      } else {
        q = crs.transformation.transform(crs.projection.project(L.latLng(lat, lon)), 1);
        world[2 * k] = q.x; world[2 * k + 1] = q.y;
      }
    }
    function starts(counts) {
      var out = new Int32Array(counts.length + 1);
      for (var i = 0; i < counts.length; i++) { out[i + 1] = out[i] + counts[i]; }
      return out;
    }
    var ring = starts(enc.r), poly = starts(enc.p), geom = starts(enc.g), n = enc.g.length;
    var box = new Float64Array(4 * n);
    for (var gi = 0; gi < n; gi++) {
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (var v = ring[poly[geom[gi]]]; v < ring[poly[geom[gi + 1]]]; v++) {
        var wx = world[2 * v], wy = world[2 * v + 1];
        if (wx < x0) { x0 = wx; } if (wx > x1) { x1 = wx; }
        if (wy < y0) { y0 = wy; } if (wy > y1) { y1 = wy; }
      }
      box[4 * gi] = x0; box[4 * gi + 1] = y0; box[4 * gi + 2] = x1; box[4 * gi + 3] = y1;
    }
    return {n: n, lonlat: lonlat, world: world, ring: ring, poly: poly, geom: geom, box: box};
  }

  function flatLatLngs(F, i) {
    // the rings of geometry i as L.polygon latlngs (for the few highlighted search results)
    var polys = [];
    for (var a = F.geom[i]; a < F.geom[i + 1]; a++) {
      var rings = [];
      for (var b = F.poly[a]; b < F.poly[a + 1]; b++) {
        var ring = [];
        for (var v = F.ring[b]; v < F.ring[b + 1]; v++) { ring.push(L.latLng(F.lonlat[2 * v + 1], F.lonlat[2 * v])); }
        rings.push(ring);
      }
      polys.push(rings);
    }
    return polys.length === 1 ? polys[0] : polys;
  }

  function flatBounds(F, i) {
    var b = L.latLngBounds([]);
    for (var v = F.ring[F.poly[F.geom[i]]]; v < F.ring[F.poly[F.geom[i + 1]]]; v++) {
      b.extend([F.lonlat[2 * v + 1], F.lonlat[2 * v]]);
    }
    return b;
  }

  function insideRings(F, i, wx, wy) {
    // even-odd rule over every ring of geometry i (holes and separate parts need no special case)
    var inside = false, W = F.world;
    for (var b = F.poly[F.geom[i]]; b < F.poly[F.geom[i + 1]]; b++) {
      var s = F.ring[b], e = F.ring[b + 1];
      for (var v = s, u = e - 1; v < e; u = v++) {
        var yv = W[2 * v + 1], yu = W[2 * u + 1];
        if ((yv > wy) !== (yu > wy) && wx < (W[2 * u] - W[2 * v]) * (wy - yv) / (yu - yv) + W[2 * v]) { inside = !inside; }
      }
    }
    return inside;
  }

  // '#rrggbb' or '#rgb' as one little-endian RGBA pixel (Uint32 over ImageData bytes).
  function pixelOf(hex) {
    var h = String(hex).replace('#', '');
    if (h.length === 3) { h = h[0] + h[0] + h[1] + h[1] + h[2] + h[2]; }
    var v = parseInt(h.slice(0, 6), 16);
    return ((255 << 24) | ((v & 255) << 16) | (v & 0xff00) | ((v >> 16) & 255)) >>> 0;
  }

  // Parcels smaller than this many pixels each way are set as pixels of one image instead of paths (at that
  // size a parcel and its box look the same).
  var TINY_PX = 3, MAX_TINY_PIXELS = 16e6;

  // One thematic parcel layer drawn as a single path of the canvas renderer: fill per class, one stroke.
  // Only the parcels near the view are built (a grid query of the canvas area plus half a view each way,
  // rebuilt when the view leaves it), so zoomed in to a street the work is the parcels on screen, not the
  // city's 100,000. Zoomed out, parcels under 3 px are set as pixels of one image (the page cuts its own
  // raster tile), and outlines are drawn only from ``strokeZoom`` on (below it they would be a grey mesh).
  var ParcelSet = L.Path.extend({
    options: {color: '#4d4d4d', weight: 1, opacity: 0.8, fillOpacity: 0.75, lineJoin: 'round', strokeZoom: 0,
               thinZoom: 0, thinWeight: 1, tinyPx: TINY_PX, maxTinyPixels: MAX_TINY_PIXELS},

    initialize: function (flat, codes, colours, options) {
      L.setOptions(this, options);
      this._flat = flat; this._codes = codes; this._colours = colours;
      // parcels grouped by class (counting sort), so each class is filled in one call
      var ncls = colours.length, count = new Int32Array(ncls + 1), i;
      for (i = 0; i < codes.length; i++) { if (codes[i] >= 0 && codes[i] < ncls) { count[codes[i] + 1]++; } }
      for (i = 0; i < ncls; i++) { count[i + 1] += count[i]; }
      var order = new Int32Array(count[ncls]), fill = count.slice(0, ncls);
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, B = flat.box;
      for (i = 0; i < codes.length; i++) {
        if (!(codes[i] >= 0 && codes[i] < ncls)) { continue; }
        order[fill[codes[i]]++] = i;
        x0 = Math.min(x0, B[4 * i]); y0 = Math.min(y0, B[4 * i + 1]);
        x1 = Math.max(x1, B[4 * i + 2]); y1 = Math.max(y1, B[4 * i + 3]);
      }
      this._classStart = count; this._members = order;
      this._extent = order.length ? [x0, y0, x1, y1] : null;
      this._pixels = colours.map(pixelOf);
    },

    _project: function () {
      var map = this._map, s = map.options.crs.scale(map.getZoom()), o = map.getPixelOrigin();
      if (s !== this._scale || !this._origin || !o.equals(this._origin)) { this._paths = null; }  // new zoom: rebuild
      this._scale = s; this._origin = o;
      var e = this._extent;
      this._pxBounds = e ? L.bounds([e[0] * s - o.x, e[1] * s - o.y], [e[2] * s - o.x, e[3] * s - o.y]) : null;
    },

    _update: function () { if (this._map) { this._updatePath(); } },

    // The drawn parcels whose box meets the world rectangle r, grouped by class: {start, members}.
    _select: function (r) {
      var e = this._extent;
      if (r[0] <= e[0] && r[1] <= e[1] && r[2] >= e[2] && r[3] >= e[3]) { return {start: this._classStart, members: this._members}; }
      var ncls = this._colours.length, count = new Int32Array(ncls + 1), codes = this._codes, B = this._flat.box;
      var hits = [], i, k, a, b;
      if (r[2] >= e[0] && r[0] <= e[2] && r[3] >= e[1] && r[1] <= e[3]) {
        var g = this._grid();
        var c0 = Math.max(0, Math.floor((r[0] - e[0]) * g.cx)), c1 = Math.min(g.nx - 1, Math.floor((r[2] - e[0]) * g.cx));
        var r0 = Math.max(0, Math.floor((r[1] - e[1]) * g.cy)), r1 = Math.min(g.ny - 1, Math.floor((r[3] - e[1]) * g.cy));
        var stamp = this._stamp || (this._stamp = new Int32Array(codes.length));
        var tick = this._tick = (this._tick || 0) + 1;
        for (b = r0; b <= r1; b++) {
          for (a = c0; a <= c1; a++) {
            for (k = g.start[b * g.nx + a]; k < g.start[b * g.nx + a + 1]; k++) {
              i = g.items[k];
              if (stamp[i] === tick) { continue; }
              stamp[i] = tick;
              if (B[4 * i + 2] >= r[0] && B[4 * i] <= r[2] && B[4 * i + 3] >= r[1] && B[4 * i + 1] <= r[3]) { hits.push(i); }
            }
          }
        }
      }
      for (k = 0; k < hits.length; k++) { count[codes[hits[k]] + 1]++; }
      for (k = 0; k < ncls; k++) { count[k + 1] += count[k]; }
      var members = new Int32Array(hits.length), fill = count.slice(0, ncls);
      for (k = 0; k < hits.length; k++) { members[fill[codes[hits[k]]]++] = hits[k]; }
      return {start: count, members: members};
    },

    _buildPaths: function (region) {
      // One Path2D per class, in layer pixels of the current zoom. Built from an SVG path string: one call
      // into the canvas instead of one per vertex (measured 4x faster for 20,000 parcels). Kept until the
      // zoom changes or the view leaves the built region, so panning mostly refills the cached paths.
      var s = this._scale, ox = this._origin.x, oy = this._origin.y, sel = this._select(region);
      var F = this._flat, W = F.world, B = F.box, RS = F.ring, PS = F.poly, GS = F.geom, paths = [];
      var tiny = [], tpx = this.options.tinyPx, tx0 = Infinity, ty0 = Infinity, tx1 = -Infinity, ty1 = -Infinity;
      for (var k = 0; k + 1 < sel.start.length; k++) {
        var parts = [];
        for (var j = sel.start[k]; j < sel.start[k + 1]; j++) {
          var i = sel.members[j];
          var bx0 = B[4 * i] * s - ox, by0 = B[4 * i + 1] * s - oy, bx1 = B[4 * i + 2] * s - ox, by1 = B[4 * i + 3] * s - oy;
          if (bx1 - bx0 < tpx && by1 - by0 < tpx) {
            tiny.push(i, k);
            tx0 = Math.min(tx0, bx0); ty0 = Math.min(ty0, by0); tx1 = Math.max(tx1, bx1); ty1 = Math.max(ty1, by1);
            continue;
          }
          for (var rr = PS[GS[i]]; rr < PS[GS[i + 1]]; rr++) {
            var v = RS[rr], end = RS[rr + 1];
            parts.push('M', Math.round((W[2 * v] * s - ox) * 10) / 10, Math.round((W[2 * v + 1] * s - oy) * 10) / 10);
            for (v++; v < end; v++) {
              parts.push('L', Math.round((W[2 * v] * s - ox) * 10) / 10, Math.round((W[2 * v + 1] * s - oy) * 10) / 10);
            }
            parts.push('Z');
          }
        }
        paths.push(parts.length ? new Path2D(parts.join(' ')) : null);
      }
      this._tiny = tiny.length ? this._tinyImage(tiny, Math.floor(tx0), Math.floor(ty0), Math.ceil(tx1) + 1, Math.ceil(ty1) + 1) : null;
      if (tiny.length && !this._tiny) {
        // an image that large (a wide screen zoomed out) would cost more than it saves: boxes in the paths
        for (var t = 0; t < tiny.length; t += 2) {
          var q = tiny[t], c = tiny[t + 1];
          paths[c] = paths[c] || new Path2D();
          paths[c].rect(B[4 * q] * s - ox, B[4 * q + 1] * s - oy, Math.max(1, (B[4 * q + 2] - B[4 * q]) * s),
                        Math.max(1, (B[4 * q + 3] - B[4 * q + 1]) * s));
        }
      }
      return paths;
    },

    _tinyImage: function (tiny, x0, y0, x1, y1) {
      // the tiny parcels as pixels of one canvas: each parcel colours the pixels its box touches (at least one)
      var w = x1 - x0, h = y1 - y0, s = this._scale, ox = this._origin.x + x0, oy = this._origin.y + y0;
      if (w * h > this.options.maxTinyPixels) { return null; }
      var canvas = document.createElement('canvas');
      canvas.width = w; canvas.height = h;
      var ctx = canvas.getContext('2d'), img = ctx.createImageData(w, h), px = new Uint32Array(img.data.buffer);
      var B = this._flat.box, P = this._pixels;
      for (var t = 0; t < tiny.length; t += 2) {
        var i = tiny[t], colour = P[tiny[t + 1]];
        var c0 = Math.floor(B[4 * i] * s - ox), c1 = Math.max(c0, Math.ceil(B[4 * i + 2] * s - ox) - 1);
        var r0 = Math.floor(B[4 * i + 1] * s - oy), r1 = Math.max(r0, Math.ceil(B[4 * i + 3] * s - oy) - 1);
        for (var r = r0; r <= r1; r++) { for (var c = c0; c <= c1; c++) { px[r * w + c] = colour; } }
      }
      ctx.putImageData(img, 0, 0);
      return {canvas: canvas, x: x0, y: y0};
    },

    _updatePath: function () {
      var r = this._renderer;
      if (!r._drawing || !this._extent) { return; }
      var s = this._scale, o = this._origin, vb = r._bounds, built = this._built;
      var view = [(vb.min.x + o.x) / s, (vb.min.y + o.y) / s, (vb.max.x + o.x) / s, (vb.max.y + o.y) / s];
      if (!this._paths || !built || view[0] < built[0] || view[1] < built[1] || view[2] > built[2] || view[3] > built[3]) {
        var hw = (view[2] - view[0]) / 2, hh = (view[3] - view[1]) / 2;
        this._built = [view[0] - hw, view[1] - hh, view[2] + hw, view[3] + hh];
        this._paths = this._buildPaths(this._built);
      }
      var ctx = r._ctx, opt = this.options, paths = this._paths, k;
      ctx.globalAlpha = opt.fillOpacity;
      if (this._tiny) { ctx.drawImage(this._tiny.canvas, this._tiny.x, this._tiny.y); }
      for (k = 0; k < paths.length; k++) {
        if (!paths[k]) { continue; }
        ctx.fillStyle = this._colours[k];
        ctx.fill(paths[k], 'nonzero');  // rings are oriented (holes clockwise), so overlaps never cancel out
      }
      var zoom = this._map.getZoom(), weight = zoom < opt.thinZoom ? opt.thinWeight : opt.weight;
      if (opt.stroke && weight > 0 && zoom >= opt.strokeZoom) {
        if (ctx.setLineDash) { ctx.setLineDash([]); }
        ctx.globalAlpha = opt.opacity; ctx.lineWidth = weight; ctx.strokeStyle = opt.color;
        ctx.lineJoin = opt.lineJoin; ctx.lineCap = opt.lineCap;
        for (k = 0; k < paths.length; k++) { if (paths[k]) { ctx.stroke(paths[k]); } }
      }
    },

    _grid: function () {
      // uniform grid over the drawn parcels' world extent, about one cell per parcel; CSR lists of parcels
      if (this._cells) { return this._cells; }
      var e = this._extent, n = this._members.length, B = this._flat.box;
      var w = Math.max(e[2] - e[0], 1e-12), h = Math.max(e[3] - e[1], 1e-12);
      var nx = Math.max(1, Math.min(2048, Math.round(Math.sqrt(n * w / h)))), ny = Math.max(1, Math.min(2048, Math.round(n / nx)));
      var cx = nx / w, cy = ny / h, pass, j, i, a, b, c0, c1, r0, r1;
      var count = new Int32Array(nx * ny + 1), items = null, fill = null;
      for (pass = 0; pass < 2; pass++) {
        for (j = 0; j < n; j++) {
          i = this._members[j];
          c0 = Math.min(nx - 1, Math.floor((B[4 * i] - e[0]) * cx)); c1 = Math.min(nx - 1, Math.floor((B[4 * i + 2] - e[0]) * cx));
          r0 = Math.min(ny - 1, Math.floor((B[4 * i + 1] - e[1]) * cy)); r1 = Math.min(ny - 1, Math.floor((B[4 * i + 3] - e[1]) * cy));
          for (b = r0; b <= r1; b++) {
            for (a = c0; a <= c1; a++) {
              if (pass === 0) { count[b * nx + a + 1]++; } else { items[fill[b * nx + a]++] = i; }
            }
          }
        }
        if (pass === 0) {
          for (a = 0; a < nx * ny; a++) { count[a + 1] += count[a]; }
          items = new Int32Array(count[nx * ny]); fill = count.slice(0, nx * ny);
        }
      }
      this._cells = {nx: nx, ny: ny, cx: cx, cy: cy, start: count, items: items};
      return this._cells;
    },

    // The parcel (position in the payload) under a layer point, or -1; the highest position wins overlaps.
    parcelAt: function (point) {
      if (!this._extent || !this._map) { return -1; }
      var e = this._extent, s = this._scale;
      var wx = (point.x + this._origin.x) / s, wy = (point.y + this._origin.y) / s;
      if (wx < e[0] || wx > e[2] || wy < e[1] || wy > e[3]) { return -1; }
      var g = this._grid(), B = this._flat.box;
      var cell = Math.min(g.ny - 1, Math.floor((wy - e[1]) * g.cy)) * g.nx + Math.min(g.nx - 1, Math.floor((wx - e[0]) * g.cx));
      var best = -1;
      for (var k = g.start[cell]; k < g.start[cell + 1]; k++) {
        var i = g.items[k];
        if (i > best && wx >= B[4 * i] && wx <= B[4 * i + 2] && wy >= B[4 * i + 1] && wy <= B[4 * i + 3] &&
            insideRings(this._flat, i, wx, wy)) { best = i; }
      }
      return best;
    },

    _containsPoint: function (point) { return this.parcelAt(point) >= 0; },

    getBounds: function () {
      var e = this._extent, crs = this._map ? this._map.options.crs : L.CRS.EPSG3857;
      if (!e) { return L.latLngBounds([]); }
      var s = crs.scale(0);
      return L.latLngBounds(crs.pointToLatLng(L.point(e[0] * s, e[1] * s), 0), crs.pointToLatLng(L.point(e[2] * s, e[3] * s), 0));
    }
  });

  // Block labels that never pile up: a label is shown only when its block's box on screen is at least as
  // large as the label, and no larger block's label already takes that spot (greedy, largest block first).
  // Placement depends on the zoom only, so it is redone on zoomend; outlines and popups stay at every zoom.
  var BlockLabels = L.LayerGroup.extend({
    initialize: function (items) {
      L.LayerGroup.prototype.initialize.call(this);
      function size(it) { return (it.box[1][0] - it.box[0][0]) * (it.box[1][1] - it.box[0][1]); }
      this._items = items.slice().sort(function (a, b) { return size(b) - size(a); });
      this._measured = false;
    },

    getEvents: function () { return {moveend: this._place, viewreset: this._place}; },

    onAdd: function (map) {
      L.LayerGroup.prototype.onAdd.call(this, map);
      this._measure(map);
      this._place();
    },

    _measure: function (map) {
      // Every label's size from one probe label: its padding and height from the page's own layout, the
      // text widths from canvas measureText (laying out thousands of hidden labels took a fifth of a second).
      if (this._measured || !this._items.length) { return; }
      var probe = el('div', 'leaflet-tooltip gise-block-label', 'x', map.getContainer());
      probe.style.position = 'absolute'; probe.style.left = '0'; probe.style.top = '0'; probe.style.visibility = 'hidden';
      var cs = global.getComputedStyle(probe), ctx = document.createElement('canvas').getContext('2d');
      ctx.font = cs.font || [cs.fontStyle, cs.fontWeight, cs.fontSize, cs.fontFamily].join(' ');
      var extra = probe.offsetWidth - ctx.measureText('x').width, h = probe.offsetHeight;
      probe.parentNode.removeChild(probe);
      // one pixel more than measured: the layout rounds text widths up, and a label wider than thought could
      // touch its neighbour
      this._items.forEach(function (it) { it.w = Math.ceil(ctx.measureText(it.text).width + extra) + 1; it.h = h; });
      this._measured = true;
    },

    _place: function () {
      var map = this._map;
      if (!map) { return; }
      var z = map.getZoom(), placed = [], gap = 2;
      // only labels near the view: a city has thousands of blocks, and zoomed in every one of them fits
      var view = map.getPixelBounds(), vw = view.max.x - view.min.x, vh = view.max.y - view.min.y;
      var near = L.bounds([view.min.x - vw / 2, view.min.y - vh / 2], [view.max.x + vw / 2, view.max.y + vh / 2]);
      for (var k = 0; k < this._items.length; k++) {
        var it = this._items[k];
        var sw = map.project(it.box[0], z), ne = map.project(it.box[1], z);
        var ok = ne.x - sw.x >= it.w && sw.y - ne.y >= it.h, rect = null;
        if (ok) {
          var c = map.project(it.at, z);
          ok = near.contains(c);
        }
        if (ok) {
          rect = [c.x - it.w / 2 - gap, c.y - it.h / 2 - gap, c.x + it.w / 2 + gap, c.y + it.h / 2 + gap];
          for (var q = 0; q < placed.length && ok; q++) {
            var p = placed[q];
            ok = rect[2] <= p[0] || rect[0] >= p[2] || rect[3] <= p[1] || rect[1] >= p[3];
          }
        }
        if (ok) {
          placed.push(rect);
          if (!it.tip) {
            it.tip = L.tooltip(it.at, {permanent: true, direction: 'center', className: 'gise-block-label'})
              .setContent(el('span', null, it.text));
            this.addLayer(it.tip);
          }
        } else if (it.tip) {
          // Leaflet fades a removed tooltip out and deletes its element 200 ms later (map._fadeAnimated), and
          // in those 200 ms the element stays at its old place while the map has already zoomed: a ghost label
          // where its block no longer is. A label that no longer fits goes at once. (The tooltip object is
          // dropped, so the pending removal timer can only detach an element that is already detached.)
          var node = it.tip.getElement();
          this.removeLayer(it.tip);
          if (node) { L.DomUtil.remove(node); }
          it.tip = null;
        }
      }
    }
  });

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
    var P = data.parcels, F = {};
    var renderer = L.canvas({padding: 0.2});
    var flat = P ? decodeFlat(P.geom, map.options.crs) : null;
    mark('gise-decoded');
    var firmStart = null;
    var state = {map: map, data: data, layers: {}, overlays: {}, visible: {}, ready: false, detailed: false};
    global.GISE = state;

    // The popup and search columns come in a second part of the payload, unpacked after the first paint
    // (at 100k parcels they are four fifths of the JSON); ``attach`` adds them to ``data``.
    state.attach = function (details) {
      if (P && details.parcels) { Object.keys(details.parcels).forEach(function (k) { P[k] = details.parcels[k]; }); }
      F = data.firms = details.firms || {};
      data.search = details.search || null;
      if (P && P.firm_count) {
        firmStart = new Array(P.firm_count.length + 1); firmStart[0] = 0;
        for (var i = 0; i < P.firm_count.length; i++) { firmStart[i + 1] = firmStart[i] + P.firm_count[i]; }
      }
      firmTargetCache = null;
      state.detailed = true;
    };
    var detailsWaiting = [];
    function whenDetailed(fn) { if (state.detailed) { fn(); } else { detailsWaiting.push(fn); } }
    state.detailsAttached = function () { detailsWaiting.splice(0).forEach(function (fn) { fn(); }); };

    function row(table, key, value, unit) {
      if (value === null || value === undefined || value === '') { return; }
      var tr = el('tr', null, null, table);
      el('th', null, T[key] || key, tr);
      el('td', null, unit ? value + ' ' + unit : value, tr);
    }

    // A figure row: a missing figure reads "—" (missing, never 0); optional text rows are left out instead.
    function figure(table, key, v, digits, unit) {
      var s = fmt(v, digits);
      row(table, key, s === null ? '\u2014' : s, s === null ? '' : unit);
    }

    function parcelPopup(i) {
      var box = el('div', 'gise-popup');
      el('div', 'gise-popup-title', T.parcel + ' ' + column(P, 'id', i), box);
      var t = el('table', null, null, box);
      row(t, 'street', column(P, 'street', i));
      row(t, 'land_use', column(P, 'land_use', i));
      figure(t, 'land_mu', column(P, 'land_mu', i), 2);
      figure(t, 'area_mu', column(P, 'area_mu', i), 2);
      row(t, 'grade', column(P, 'grade', i));
      figure(t, 'tax_per_mu', column(P, 'tax_per_mu', i), 2, T.wan_per_mu);
      figure(t, 'va_per_mu', column(P, 'va_per_mu', i), 2, T.wan_per_mu);
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
          figure(ft, 'tax_per_mu', column(F, 'tax_per_mu', f), 2, T.wan_per_mu);
          figure(ft, 'va_per_mu', column(F, 'va_per_mu', f), 2, T.wan_per_mu);
          figure(ft, 'land_mu', column(F, 'land_mu', f), 2);
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

    var hoverTip = L.tooltip({sticky: true, direction: 'top', opacity: 0.95}), hoverAt = -1;
    function parcelLayer(spec) {
      var layer = new ParcelSet(flat, spec.codes, spec.colours, {
        renderer: renderer, weight: spec.key === 'grade' || spec.key === 'tax' ? 0.4 : 1,
        strokeZoom: data.detail_zoom || 0
      });
      layer.on('click', function (e) {
        var i = layer.parcelAt(e.layerPoint), at = e.latlng;
        if (i < 0) { return; }
        whenDetailed(function () {
          L.popup({maxWidth: 360, maxHeight: 360}).setLatLng(at).setContent(parcelPopup(i)).openOn(map);
        });
      });
      layer.on('mouseover mousemove', function (e) {
        var i = layer.parcelAt(e.layerPoint);
        if (i < 0 || !state.detailed) { return; }
        // one layer holds every parcel: moving onto a neighbour is a mousemove, so the text follows the hit
        if (i !== hoverAt || !hoverTip._map) {
          hoverAt = i;
          hoverTip.setContent(el('span', null, tipFor(i)));
          hoverTip.setLatLng(e.latlng);
          map.openTooltip(hoverTip);
        } else {
          hoverTip.setLatLng(e.latlng);
        }
      });
      layer.on('mouseout remove', function () { hoverAt = -1; map.closeTooltip(hoverTip); });
      return layer;
    }

    function blockLayer(spec) {
      // Every block outline in one ParcelSet (one path, grid hit test), as the parcels: thousands of
      // L.polygon objects made each pan and zoom of a city map take a second.
      var bflat = decodeFlat(spec.geom, map.options.crs), group = L.featureGroup(), items = [], A = spec.attrs;
      var outlines = new ParcelSet(bflat, new Int32Array(bflat.n), [spec.colour], {
        renderer: renderer, color: spec.colour, weight: 2.5, opacity: 1, fillOpacity: 0.05, tinyPx: 0,  // outlines at any size
        // a city seen whole: thin outlines, or thousands of blocks would paint it red over the grades
        thinZoom: data.detail_zoom ? data.detail_zoom - 2 : 0, thinWeight: 0.8
      });
      function label(i) {
        var area = A.area_mu ? fmt(A.area_mu[i], 1) : null;
        return T.block + ' ' + A.id[i] + (area !== null ? ' · ' + area + ' ' + T.mu : '');
      }
      outlines.on('click', function (e) {
        var i = outlines.parcelAt(e.layerPoint);
        if (i < 0) { return; }
        var box = el('div', 'gise-popup');
        el('div', 'gise-popup-title', label(i), box);
        var t = el('table', null, null, box);
        row(t, 'n_parcels', A.n_parcels ? fmt(A.n_parcels[i], 0) : null);
        row(t, 'freed_mu', A.freed_mu ? fmt(A.freed_mu[i], 2) : null);
        L.popup().setLatLng(e.latlng).setContent(box).openOn(map);
      });
      group.addLayer(outlines);
      for (var i = 0; i < bflat.n; i++) {
        var bb = flatBounds(bflat, i), b = [[bb.getSouth(), bb.getWest()], [bb.getNorth(), bb.getEast()]];
        var at = A.label_lat && A.label_lat[i] !== null ? [A.label_lat[i], A.label_lon[i]]
          : [(b[0][0] + b[1][0]) / 2, (b[0][1] + b[1][1]) / 2];
        items.push({text: label(i), at: L.latLng(at[0], at[1]), box: b, tip: null, w: 0, h: 0});
      }
      group.addLayer(new BlockLabels(items));
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

    // Fit first, without animation: the visible layers are then drawn once, at the view the user sees.
    if (data.bounds) { map.fitBounds(data.bounds, {animate: false}); }
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
        if (typeof t === 'number' && flat && t < flat.n) { bounds.extend(flatBounds(flat, t)); }
        else if (t && t.length === 2) { bounds.extend(L.latLng(t[0], t[1])); }
      });
      return bounds;
    }
    function showTargets(targets) {
      highlight.clearLayers();
      var bounds = targetBounds(targets);
      if (!bounds.isValid()) { return false; }
      targets.forEach(function (t) {
        if (typeof t === 'number' && flat && t < flat.n) {
          highlight.addLayer(L.polygon(flatLatLngs(flat, t), {renderer: renderer, color: '#00e5ff', weight: 4, fill: false}));
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
        textPlaceholder: T.search_hint, textErr: T.search_not_found, textCancel: T.search_cancel,
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

    // "painted": two animation frames after the visible layers were added, i.e. after the canvas drew them.
    state.painted = new Promise(function (resolve) {
      requestAnimationFrame(function () { requestAnimationFrame(function () { mark('gise-painted'); resolve(state); }); });
    });
    return state;
  }

  function mergeInto(target, src) {
    Object.keys(src).forEach(function (k) {
      if (src[k] && typeof src[k] === 'object' && target[k] && typeof target[k] === 'object') { mergeInto(target[k], src[k]); }
      else { target[k] = src[k]; }
    });
  }

  // The payload element holds gzip-compressed JSON in base64 (gisefficiency.maps.encode.pack): unpacked with the
  // browser's own DecompressionStream (Chrome/Edge 80+, Firefox 113+, Safari 16.4+), nothing fetched.
  function unpack(node) {
    var bin = atob(node.textContent.replace(/\s+/g, '')), n = bin.length, bytes = new Uint8Array(n);
    for (var i = 0; i < n; i++) { bytes[i] = bin.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).text().then(JSON.parse);
  }

  function load(map, id) {
    mark('gise-start');
    var node = document.getElementById(id);
    if (typeof DecompressionStream === 'undefined' || typeof Blob.prototype.stream !== 'function') {
      var note = L.control({position: 'topright'});
      note.onAdd = function () { return el('div', 'gise-note gise-unsupported leaflet-control', node.getAttribute('data-unsupported')); };
      note.addTo(map);
      return Promise.resolve(null);
    }
    // The second part (popup and search columns) is unpacked once the map is painted; ``GISE.ready`` is
    // set when both are in.
    return unpack(node).then(function (data) {
      mark('gise-unpacked');
      var state = init(map, data);
      return state.painted.then(function () {
        return unpack(document.getElementById(node.getAttribute('data-details')));
      }).then(function (details) {
        state.attach(details);
        mark('gise-detailed');
        state.detailsAttached();
        state.ready = true;
        return state;
      });
    });
  }

  global.GiseMap = {init: init, load: load, unpack: unpack, decode: decode, decodeFlat: decodeFlat, ParcelSet: ParcelSet};
})(window);
