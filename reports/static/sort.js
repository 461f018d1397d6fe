// Click a column header of a table.sortable to sort its body by that column (again: reverse).
// Cells sort by their data-sort value when they have one, else by their text.
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, col) {
    th.style.cursor = "pointer";
    th.title = "sort";
    th.addEventListener("click", function () {
      var body = table.tBodies[0];
      var up = th.dataset.dir !== "up";
      th.dataset.dir = up ? "up" : "down";
      var key = function (row) {
        var cell = row.cells[col];
        var v = cell ? (cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim()) : "";
        var n = parseFloat(v);
        return isNaN(n) ? v.toLowerCase() : n;
      };
      Array.from(body.rows).sort(function (a, b) {
        var x = key(a), y = key(b);
        return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
      }).forEach(function (row) { body.appendChild(row); });
    });
  });
});
