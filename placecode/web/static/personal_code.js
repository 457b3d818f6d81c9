// Renew the personal code every minute, so that a photo of it soon stops working.
(function () {
  "use strict";
  var box = document.getElementById("personal-code");
  var until = document.getElementById("personal-code-expires");
  if (!box) { return; }
  async function renew() {
    try {
      var response = await fetch(box.dataset.refreshUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (!response.ok) { return; }
      var code = await response.json();
      box.innerHTML = code.svg;
      box.dataset.token = code.token;
      if (until) {
        until.textContent = new Date(code.expires_at).toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
      }
    } catch (ignored) { /* offline for a moment: keep the current code */ }
  }
  setInterval(renew, 60000);
})();
