// The live clock on the scan page: the time ticks every second inside each colour block,
// so a screenshot of an old scan is easy to tell from a live one.
(function () {
  "use strict";
  var clocks = document.querySelectorAll("[data-testid=live-clock]");
  if (!clocks.length) { return; }
  var zone = "Asia/Shanghai";
  function tick() {
    var text = new Date().toLocaleTimeString("zh-CN", { hour12: false, timeZone: zone });
    for (var i = 0; i < clocks.length; i++) { clocks[i].textContent = text; }
  }
  tick();
  setInterval(tick, 1000);
})();
