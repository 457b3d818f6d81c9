// The sentinel kiosk: a barcode scanner types the personal code and Enter, or staff type
// an ID number; the answer fills the screen, red with a beep when the person may not enter.
(function () {
  "use strict";
  var root = document.getElementById("sentinel");
  var form = document.getElementById("scan-form");
  var out = document.getElementById("sentinel-result");
  if (!root || !form) { return; }

  function beep() {
    try {
      var context = new (window.AudioContext || window.webkitAudioContext)();
      var tone = context.createOscillator();
      tone.frequency.value = 880;
      tone.connect(context.destination);
      tone.start();
      tone.stop(context.currentTime + 0.4);
    } catch (ignored) { /* no audio: the red screen says it */ }
  }

  function show(className, lines) {
    out.className = "sentinel-result " + className;
    out.textContent = "";
    lines.forEach(function (line, index) {
      var p = document.createElement(index === 0 ? "strong" : "p");
      p.textContent = line;
      out.appendChild(p);
    });
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var body = {};
    if (form.personal_code.value.trim()) {
      body.personal_code = form.personal_code.value.trim();
    } else {
      body.doc_type = form.doc_type.value;
      body.doc_number = form.doc_number.value.trim();
    }
    try {
      var response = await fetch("/api/v1/venues/" + root.dataset.venue + "/sentinel-checkins", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": form.csrf_token.value },
        body: JSON.stringify(body)
      });
      var answer = await response.json();
      if (!response.ok) {
        show("alarm", [answer.message || ("HTTP " + response.status)]);
        beep();
      } else {
        var person = answer.people[0];
        show(answer.alarm ? "alarm" : "pass", [
          (answer.alarm ? "✘ " : "✔ ") + person.name_masked + " · " + person.doc_masked,
          person.entry.reason
        ]);
        if (answer.alarm) { beep(); }
      }
    } catch (problem) {
      show("alarm", [problem.message]);
      beep();
    }
    form.personal_code.value = "";
    form.doc_number.value = "";
    form.personal_code.focus();
  });
})();
