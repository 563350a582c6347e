// flwd console: the one behaviour htmx does not cover, "add another" for array arguments.
// (No inline scripts anywhere: the Content-Security-Policy allows only files from flwd.)
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("[data-add-item]") : null;
  if (!button) { return; }
  var group = button.parentElement.querySelector("[data-repeat]");
  var inputs = group.querySelectorAll("input");
  var last = inputs[inputs.length - 1];
  var copy = last.cloneNode(false);
  copy.value = "";
  var name = copy.getAttribute("aria-label").replace(/ item \d+$/, "");
  copy.setAttribute("aria-label", name + " item " + (inputs.length + 1));
  group.appendChild(copy);
  copy.focus();
});
// Keep the newest output line in view while a run streams (unless the reader scrolled up),
// and at most MAX_LINES lines in the page: a long run's earlier lines stay a reload away.
var MAX_LINES = 5000;
document.addEventListener("htmx:sseMessage", function (event) {
  var box = document.getElementById("output");
  if (box && event.target === box) {
    while (box.childElementCount > MAX_LINES) { box.removeChild(box.firstElementChild); }
    var nearEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    if (nearEnd) { box.scrollTop = box.scrollHeight; }
  }
});
