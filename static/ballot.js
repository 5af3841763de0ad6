// Progressive enhancement for approval ballots with a spending limit: show a running
// total as projects are ticked. The server checks the same limit without JavaScript.
(function () {
  var form = document.querySelector("form.ballot[data-limit='yes']");
  if (!form) return;
  var budget = parseInt(form.getAttribute("data-budget"), 10);
  var line = form.querySelector(".running-total");
  var output = form.querySelector("#total");
  // As the server writes amounts: the page's language, the round's currency, Latin digits.
  var format = new Intl.NumberFormat(document.documentElement.lang || "en-GB",
    { style: "currency", currency: form.getAttribute("data-currency") || "GBP", numberingSystem: "latn" });
  function update() {
    var total = 0;
    form.querySelectorAll("input[name=project]:checked").forEach(function (box) {
      total += parseInt(box.getAttribute("data-cost"), 10);
    });
    output.textContent = format.format(total / 100);
    line.classList.toggle("over", total > budget);
  }
  line.hidden = false;
  form.addEventListener("change", update);
  update();
})();
