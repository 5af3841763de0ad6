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

// Points ballots: show how many points are left as they are typed. Only a guide: the
// server checks the ballot whole, and says what is wrong, with or without JavaScript.
(function () {
  var line = document.querySelector(".points-left");
  if (!line) return;
  var form = line.closest("form");
  var total = parseInt(line.getAttribute("data-total"), 10);
  var output = line.querySelector("#points-left");
  var format = new Intl.NumberFormat(document.documentElement.lang || "en-GB", { numberingSystem: "latn" });
  function update() {
    var given = 0;
    form.querySelectorAll("input.points").forEach(function (box) {
      var value = box.value.trim();
      if (/^[0-9]{1,4}$/.test(value)) given += parseInt(value, 10);
    });
    output.textContent = format.format(total - given);
    line.classList.toggle("over", given > total);
  }
  line.hidden = false;
  form.addEventListener("input", update);
  update();
})();
