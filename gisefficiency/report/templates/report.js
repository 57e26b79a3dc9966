(function () {
  "use strict";
  // Every sortable table keeps a list of its rows in display order. A row is either a <tr> written in the
  // page or, for a long table, a row of the compressed payload (data-rest) that becomes a <tr> only when it
  // is to be shown: a city's 30,000 firms cost no DOM until someone asks to see them.
  var collator = new Intl.Collator(document.documentElement.lang || undefined, { numeric: true });
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(s) { return String(s).replace(/[&<>"']/g, function (ch) { return ESC[ch]; }); }
  function textKey(t) { t = t.trim(); return t === "—" ? null : t; }
  function domKey(cell) {
    var v = cell.getAttribute("data-v");
    if (v === null) { return textKey(cell.textContent); }
    return v === "" ? null : Number(v);
  }
  // A payload cell is its text, [text, sort key] for numbers, or [text, null, tooltip].
  function dataKey(c) {
    if (typeof c === "string") { return textKey(c); }
    if (c[1] !== null) { return c[1] === "" ? null : Number(c[1]); }
    return textKey(c[0]);
  }
  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") { return a - b; }
    return collator.compare(String(a), String(b));
  }
  function cellHtml(c, css) {
    var cls = css ? ' class="' + css + '"' : "";
    if (typeof c === "string") { return "<td" + cls + ">" + esc(c) + "</td>"; }
    if (c[1] !== null) { return '<td class="num" data-v="' + esc(c[1]) + '">' + esc(c[0]) + "</td>"; }
    return "<td" + cls + ' title="' + esc(c[2]) + '">' + esc(c[0]) + "</td>";
  }
  function Row(el, cells) { this.el = el; this.cells = cells; this.text = undefined; }
  Row.prototype.key = function (i) { return this.cells ? dataKey(this.cells[i]) : domKey(this.el.cells[i]); };
  Row.prototype.search = function () {
    if (this.text === undefined) {
      // Tooltips hold full lists (e.g. every firm of a block): search them too.
      var parts = this.cells
        ? this.cells.map(function (c) { return typeof c === "string" ? c : c[0] + (c[2] ? " " + c[2] : ""); })
        : Array.prototype.map.call(this.el.cells, function (td) { return td.textContent + (td.title ? " " + td.title : ""); });
      this.text = parts.join(" ").toLowerCase();
    }
    return this.text;
  };
  Row.prototype.element = function (css) {
    if (!this.el) {
      var body = document.createElement("tbody");
      body.innerHTML = "<tr hidden>" + this.cells.map(function (c, i) { return cellHtml(c, css[i]); }).join("") + "</tr>";
      this.el = body.rows[0];
    }
    return this.el;
  };
  function unpack(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  }

  function Table(table) {
    this.table = table;
    this.body = table.tBodies[0];
    this.rows = Array.prototype.map.call(this.body.rows, function (r) { return new Row(r, null); });
    this.css = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) { return th.getAttribute("data-css") || ""; });
    this.page = Number(table.getAttribute("data-page")) || Infinity;
    this.q = "";
    this.limit = this.page;
    this.counter = document.getElementById(table.id + "-count");
    this.more = document.getElementById(table.id + "-more");
  }
  // Put the rows that have a <tr> into the table body in display order.
  Table.prototype.order = function () {
    var frag = document.createDocumentFragment();
    this.rows.forEach(function (r) { if (r.el) { frag.appendChild(r.el); } });
    this.body.appendChild(frag);
  };
  Table.prototype.sort = function (index, th) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(this.table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    // Read each key once (not once per comparison): sorting thousands of rows stays instant.
    var keyed = this.rows.map(function (r, i) { return [r.key(index), i, r]; });
    keyed.sort(function (p, q) {
      if (p[0] === null || q[0] === null) {  // missing values stay last in both directions
        return p[0] === q[0] ? p[1] - q[1] : (p[0] === null ? 1 : -1);
      }
      var c = compare(p[0], q[0]);
      return c === 0 ? p[1] - q[1] : (asc ? c : -c);
    });
    this.rows = keyed.map(function (p) { return p[2]; });
    this.order();
    this.refresh();
  };
  // Filter, count and page: the first `limit` matching rows are shown, the rest hidden (no layout cost).
  Table.prototype.refresh = function () {
    if (!this.counter) { return; }
    var matched = 0, shown = 0, created = false, self = this;
    this.rows.forEach(function (r) {
      var ok = !self.q || r.search().indexOf(self.q) !== -1;
      if (ok) { matched++; }
      var visible = ok && matched <= self.limit;
      if (visible && !r.el) { r.element(self.css); created = true; }
      if (r.el && r.el.hidden === visible) { r.el.hidden = !visible; }
      if (visible) { shown++; }
    });
    if (created) { this.order(); }
    this.counter.textContent = this.counter.getAttribute("data-template")
      .replace("{n}", shown.toLocaleString()).replace("{total}", matched.toLocaleString());
    if (this.more) { this.more.hidden = shown >= matched; }
  };
  // The rows after the first page: unpacked once (DecompressionStream), kept as data until shown.
  Table.prototype.fill = function () {
    var b64 = this.table.getAttribute("data-rest"), self = this;
    if (!b64) { return Promise.resolve(); }
    this.table.removeAttribute("data-rest");  // the text is not needed once unpacked
    if (typeof DecompressionStream === "undefined") {
      var old = document.getElementById(this.table.id + "-old");
      if (old) { old.hidden = false; }
      return Promise.resolve();
    }
    return unpack(b64).then(function (data) {
      data.forEach(function (cells) { self.rows.push(new Row(null, cells)); });
      self.refresh();
    });
  };

  var pending = [];
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (el) {
    var t = new Table(el);
    Array.prototype.forEach.call(el.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { t.sort(i, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); t.sort(i, th); }
      });
    });
    var input = document.querySelector('input.filter[data-table="' + el.id + '"]');
    if (input) {
      input.addEventListener("input", function () {
        t.q = input.value.trim().toLowerCase();
        t.limit = t.page;
        t.refresh();
      });
    }
    if (t.more) { t.more.addEventListener("click", function () { t.limit = Infinity; t.refresh(); }); }
    t.refresh();
    pending.push(t.fill());
  });
  Promise.all(pending).then(function () { window.__reportReady = true; },
    function (e) { window.__reportReady = true; throw e; });
})();
