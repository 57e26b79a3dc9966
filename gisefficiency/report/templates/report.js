(function () {
  "use strict";
  function sortKey(cell) {
    var v = cell.getAttribute("data-v");
    if (v === null) { var t = cell.textContent.trim(); return t === "—" ? null : t; }
    if (v === "") { return null; }
    return Number(v);
  }
  var collator = new Intl.Collator(document.documentElement.lang || undefined, { numeric: true });
  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") { return a - b; }
    return collator.compare(String(a), String(b));
  }
  function sortTable(table, index, th) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0];
    // Read each key once (not once per comparison): sorting thousands of rows stays instant.
    var keyed = Array.prototype.map.call(body.rows, function (r, i) { return [sortKey(r.cells[index]), i, r]; });
    keyed.sort(function (p, q) {
      if (p[0] === null || q[0] === null) {  // missing values stay last in both directions
        return p[0] === q[0] ? p[1] - q[1] : (p[0] === null ? 1 : -1);
      }
      var c = compare(p[0], q[0]);
      return c === 0 ? p[1] - q[1] : (asc ? c : -c);
    });
    var frag = document.createDocumentFragment();
    keyed.forEach(function (p) { frag.appendChild(p[2]); });
    body.appendChild(frag);
    if (table._refresh) { table._refresh(); }
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortTable(table, i, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortTable(table, i, th); }
      });
    });
  });
  // A long table's rows after the first page come as base64 of gzip-compressed JSON (data-rest): unpacked
  // once with DecompressionStream and appended as hidden rows, so sorting and filtering see every row.
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(s) { return String(s).replace(/[&<>"']/g, function (ch) { return ESC[ch]; }); }
  function unpack(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  }
  function rowHtml(row, css) {
    var out = "<tr hidden>";
    for (var i = 0; i < row.length; i++) {
      var c = row[i];
      if (typeof c === "string") {
        out += "<td" + (css[i] ? ' class="' + css[i] + '"' : "") + ">" + esc(c) + "</td>";
      } else if (c[1] !== null) {
        out += '<td class="num" data-v="' + esc(c[1]) + '">' + esc(c[0]) + "</td>";
      } else {
        out += "<td" + (css[i] ? ' class="' + css[i] + '"' : "") + ' title="' + esc(c[2]) + '">' + esc(c[0]) + "</td>";
      }
    }
    return out + "</tr>";
  }
  function fill(table) {
    var b64 = table.getAttribute("data-rest");
    if (!b64) { return Promise.resolve(); }
    table.removeAttribute("data-rest");  // the text is not needed once the rows exist
    if (typeof DecompressionStream === "undefined") {
      var old = document.getElementById(table.id + "-old");
      if (old) { old.hidden = false; }
      return Promise.resolve();
    }
    var css = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) { return th.getAttribute("data-css") || ""; });
    return unpack(b64).then(function (rows) {
      var html = new Array(rows.length);
      for (var i = 0; i < rows.length; i++) { html[i] = rowHtml(rows[i], css); }
      table.tBodies[0].insertAdjacentHTML("beforeend", html.join(""));
    });
  }
  // Filter box, row counter and paging: long tables show their first rows only (hidden rows cost no
  // layout), "show all" lifts the limit; print shows the first rows of capped tables (CSS).
  var pending = [];
  Array.prototype.forEach.call(document.querySelectorAll("input.filter"), function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    var counter = document.getElementById(table.id + "-count");
    var more = document.getElementById(table.id + "-more");
    var page = Number(table.getAttribute("data-page")) || Infinity;
    var state = { q: "", limit: page };
    function rowText(r) {
      if (r._text === undefined) {
        // Tooltips hold full lists (e.g. every firm of a block): search them too.
        var titles = Array.prototype.map.call(r.querySelectorAll("[title]"), function (e) { return e.title; });
        r._text = (r.textContent + " " + titles.join(" ")).toLowerCase();
      }
      return r._text;
    }
    function refresh() {
      var rows = table.tBodies[0].rows, matched = 0, shown = 0;
      for (var i = 0; i < rows.length; i++) {
        var ok = !state.q || rowText(rows[i]).indexOf(state.q) !== -1;
        if (ok) { matched++; }
        var visible = ok && matched <= state.limit;
        if (rows[i].hidden === visible) { rows[i].hidden = !visible; }
        if (visible) { shown++; }
      }
      counter.textContent = counter.getAttribute("data-template")
        .replace("{n}", shown.toLocaleString()).replace("{total}", matched.toLocaleString());
      if (more) { more.hidden = shown >= matched; }
    }
    table._refresh = refresh;
    input.addEventListener("input", function () {
      state.q = input.value.trim().toLowerCase();
      state.limit = page;
      refresh();
    });
    if (more) { more.addEventListener("click", function () { state.limit = Infinity; refresh(); }); }
    refresh();
    pending.push(fill(table).then(refresh));
  });
  Promise.all(pending).then(function () { window.__reportReady = true; },
    function (e) { window.__reportReady = true; throw e; });
})();
