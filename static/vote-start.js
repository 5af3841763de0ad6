// A letter's QR code opens /rounds/N/vote#code=ABCD-EFGH-JKMN: the code rides in the
// fragment, which browsers never send to the server (so no server or proxy log holds it).
// Fill it in and take it out of the address bar and history. Without JavaScript the
// resident types the code printed on the letter.
(function () {
  var match = /^#code=([0-9A-Za-z-]{1,40})$/.exec(window.location.hash);
  var input = document.getElementById("code");
  if (!match || !input) return;
  input.value = match[1];
  history.replaceState(null, "", window.location.pathname + window.location.search);
})();
