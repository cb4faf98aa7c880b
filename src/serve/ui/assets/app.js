// pytopus dashboard: a running run's steps arrive as server-sent events and
// fill in its table; nothing else on the pages needs script.
(function () {
  "use strict";
  var table = document.getElementById("live-steps");
  if (!table || !window.EventSource) { return; }
  var url = table.getAttribute("data-events");
  var source = new EventSource(url);
  function row(index) {
    return table.querySelector('tr[data-index="' + index + '"]');
  }
  function text(el, value) { if (el) { el.textContent = value; } }
  source.addEventListener("step", function (e) {
    var s = JSON.parse(e.data);
    var tr = row(s.index);
    if (!tr) { return; }
    tr.className = "step " + s.status;
    text(tr.querySelector(".s-status"), s.status);
    text(tr.querySelector(".s-code"), s.code == null ? "" : String(s.code));
    text(tr.querySelector(".s-ms"), s.elapsed_ms == null ? "" : s.elapsed_ms + " ms");
    text(tr.querySelector(".s-error"), s.error || "");
  });
  source.addEventListener("done", function () {
    source.close();
    window.location.reload();
  });
  source.onerror = function () { source.close(); };
})();
