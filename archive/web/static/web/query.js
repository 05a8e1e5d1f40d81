// The query page: ADQL highlighting under the editor, examples into the editor, Ctrl+Enter
// runs the query, and a job's page follows its phase. No library: nothing fetched at run time.
(function () {
  "use strict";
  var KEYWORDS = ("SELECT TOP DISTINCT FROM WHERE AND OR NOT AS ON JOIN LEFT RIGHT FULL OUTER " +
    "INNER NATURAL USING GROUP BY ORDER HAVING ASC DESC OFFSET UNION ALL INTERSECT EXCEPT " +
    "IN BETWEEN LIKE ILIKE IS NULL WITH EXISTS CAST").split(" ");
  // ADQL 2.1's functions and the declared UDFs (docs/adql.md); nothing the translator refuses
  var FUNCTIONS = ("CONTAINS INTERSECTS POINT CIRCLE BOX POLYGON DISTANCE AREA COORD1 COORD2 " +
    "COORDSYS CENTROID COUNT AVG MIN MAX SUM ABS SQRT LOG LOG10 EXP POWER ROUND FLOOR CEILING " +
    "MOD RADIANS DEGREES SIN COS TAN COT ASIN ACOS ATAN ATAN2 PI RAND TRUNCATE LOWER UPPER " +
    "COALESCE IN_UNIT MOC IVO_HEALPIX_INDEX IVO_HEALPIX_CENTER IVO_HASWORD IVO_NOCASEMATCH " +
    "IVO_STRING_AGG IVO_EPOCH_PROP IVO_EPOCH_PROP_POS GAVO_HISTOGRAM").split(" ");
  function esc(s) { return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }
  function highlight(text) {
    var re = /(--[^\n]*)|('(?:[^']|'')*')|(\b\d+(?:\.\d*)?(?:[eE][+-]?\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)|([\s\S])/g;
    var out = "", m;
    while ((m = re.exec(text)) !== null) {
      if (m[1]) out += '<span class="tok-cm">' + esc(m[1]) + "</span>";
      else if (m[2]) out += '<span class="tok-str">' + esc(m[2]) + "</span>";
      else if (m[3]) out += '<span class="tok-num">' + m[3] + "</span>";
      else if (m[4]) {
        var up = m[4].toUpperCase();
        if (KEYWORDS.indexOf(up) >= 0) out += '<span class="tok-kw">' + m[4] + "</span>";
        else if (FUNCTIONS.indexOf(up) >= 0) out += '<span class="tok-fn">' + m[4] + "</span>";
        else out += esc(m[4]);
      } else out += esc(m[5]);
    }
    return out + "\n";
  }
  var editor = document.getElementById("editor");
  var area = document.getElementById("id_query");
  var pre = document.getElementById("highlight");
  if (editor && area && pre) {
    editor.classList.remove("nojs");
    // the translator's "at line L, column C": that token is marked until the query changes
    var err = document.getElementById("query-error");
    var errAt = -1, original = area.value;
    if (err && err.dataset.line) {
      var lines = area.value.split("\n"), at = 0;
      for (var i = 0; i < Number(err.dataset.line) - 1 && i < lines.length; i++) at += lines[i].length + 1;
      errAt = at + Number(err.dataset.column) - 1;
    }
    var render = function (text) {
      if (errAt < 0 || text !== original || errAt >= text.length) return highlight(text);
      var end = errAt; while (end < text.length && /[A-Za-z0-9_.]/.test(text[end])) end++;
      if (end === errAt) end = errAt + 1;
      return highlight(text.slice(0, errAt)).slice(0, -1) + '<span class="tok-err" id="error-mark">' +
        esc(text.slice(errAt, end)) + "</span>" + highlight(text.slice(end));
    };
    var sync = function () { pre.innerHTML = render(area.value); pre.scrollTop = area.scrollTop; };
    area.addEventListener("input", sync);
    area.addEventListener("scroll", sync);
    sync();
    area.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); area.form.submit(); }
    });
    // schema browser: a table or column name goes in at the cursor
    document.querySelectorAll("#schema button[data-insert]").forEach(function (b) {
      b.addEventListener("click", function () {
        var start = area.selectionStart, end = area.selectionEnd, text = b.dataset.insert;
        area.value = area.value.slice(0, start) + text + area.value.slice(end);
        area.selectionStart = area.selectionEnd = start + text.length;
        sync(); area.focus();
      });
    });
    document.querySelectorAll("#examples button[data-query]").forEach(function (b) {
      b.addEventListener("click", function () { area.value = b.dataset.query; sync(); area.focus(); });
    });
  }
  // a job's page: reload once the job has finished
  var job = document.getElementById("job-phase");
  if (job && job.dataset.active === "true") {
    var poll = function () {
      fetch(job.dataset.status, { credentials: "same-origin" }).then(function (r) { return r.json(); })
        .then(function (s) {
          if (s.phase !== job.dataset.phase) { window.location.reload(); }
          else { setTimeout(poll, 500); }
        }).catch(function () { setTimeout(poll, 2000); });
    };
    setTimeout(poll, 300);
  }
})();
