// podwarden's dashboard: the little the pages need beyond htmx. One click listener for every
// cell of the node grids (a grid may hold thousands), which loads the node's details; the
// selected cell and the timeline's kind filter survive the fragments' live refreshes.
(function () {
  "use strict";
  var selected = null;

  function markSelected() {
    document.querySelectorAll(".cell.selected").forEach(function (c) {
      c.classList.remove("selected");
    });
    var cell = selected && document.getElementById("cell-" + selected);
    if (cell) cell.classList.add("selected");
  }

  function filterTimeline() {
    var filter = document.getElementById("kind-filter");
    var kind = filter ? filter.value : "";
    document.querySelectorAll("#timeline .entry").forEach(function (entry) {
      entry.hidden = kind !== "" && entry.dataset.kind !== kind;
    });
  }

  document.addEventListener("click", function (event) {
    var cell = event.target.closest(".cells .cell");
    var grid = cell && cell.closest("[data-nodes]");
    if (!grid) return;
    selected = cell.id.slice("cell-".length);
    markSelected();
    htmx.ajax("GET", grid.dataset.nodes + selected, { target: "#detail", swap: "innerHTML" });
  });

  document.addEventListener("change", function (event) {
    if (event.target.id === "kind-filter") filterTimeline();
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id === "grid") {
      markSelected();
      if (selected) {  // the details follow the node, and say so once it is gone
        htmx.ajax("GET", event.target.dataset.nodes + selected, { target: "#detail", swap: "innerHTML" });
      }
    }
    if (event.target.id === "timeline") filterTimeline();
  });
})();
