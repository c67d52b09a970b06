/* The board: drag a card to a column (or pick "Move to" on the card, which works by keyboard); the
 * move is a PATCH to the tasks API, then the board reloads itself (htmx). */
(function () {
  "use strict";
  let dragged = null;

  async function move(taskId, status) {
    const result = await MC.api("PATCH", "/api/v1/tasks/" + taskId, { status: status });
    if (result.ok) {
      MC.toast("Task #" + taskId + " moved to " + status.replace("_", " "), "ok");
    } else {
      MC.toast("Task #" + taskId + ": " + MC.errorText(result), "bad");
    }
    MC.refresh("#board");
  }

  document.addEventListener("dragstart", function (event) {
    const card = event.target.closest && event.target.closest(".task[draggable]");
    if (!card) return;
    dragged = card;
    card.setAttribute("aria-grabbed", "true");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.task);
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.removeAttribute("aria-grabbed");
    dragged = null;
    document.querySelectorAll(".column.drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  });
  document.addEventListener("dragover", function (event) {
    const column = event.target.closest && event.target.closest(".column");
    if (!column || !dragged) return;
    event.preventDefault();
    document.querySelectorAll(".column.drop-target").forEach(function (c) { if (c !== column) c.classList.remove("drop-target"); });
    column.classList.add("drop-target");
  });
  document.addEventListener("drop", function (event) {
    const column = event.target.closest && event.target.closest(".column");
    if (!column || !dragged) return;
    event.preventDefault();
    const taskId = dragged.dataset.task;
    if (dragged.closest(".column") !== column) {
      column.querySelector("h2").after(dragged);  // show it at once; the reload confirms
      move(taskId, column.dataset.status);
    }
  });
  document.addEventListener("change", function (event) {
    const select = event.target.closest && event.target.closest("select.move");
    if (select) move(select.dataset.task, select.value);
  });
})();
