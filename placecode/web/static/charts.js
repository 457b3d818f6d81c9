// Foot-traffic charts, drawn by plotly.js served from the plotly wheel (no CDN): the data
// and the labels come in the page's #chart-data block; on today's dashboard the counter and
// the charts refresh from the API every 30 seconds.
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || !window.Plotly) { return; }
  var page = JSON.parse(block.textContent);
  var labels = page.labels;
  var config = { displayModeBar: false, responsive: true };
  var hours = [];
  for (var h = 0; h < 24; h += 1) { hours.push(h + ":00"); }

  function layout(extra) {
    var base = {
      margin: { l: 50, r: 10, t: 30, b: 10 },
      height: 320,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      xaxis: { automargin: true },
      yaxis: { automargin: true, rangemode: "tozero" }
    };
    return Object.assign(base, extra || {});
  }

  function name(area) { return page.english ? area.name_en : area.name_zh; }

  function draw(data) {
    if (page.kind === "venue") {
      Plotly.react("chart-venue", [
        { x: hours, y: data.low, name: labels.band, type: "scatter", mode: "lines",
          line: { width: 0 }, showlegend: false },
        { x: hours, y: data.high, name: labels.band, type: "scatter", mode: "lines",
          line: { width: 0 }, fill: "tonexty", fillcolor: "rgba(120,120,120,0.25)" },
        { x: hours, y: data.usual_hourly, name: labels.usual, type: "scatter", mode: "lines",
          line: { dash: "dash", color: "#666" } },
        { x: hours, y: data.hourly, name: labels.scans, type: "scatter", mode: "lines+markers",
          line: { color: "#c0392b" } }
      ], layout({ xaxis: { automargin: true, title: { text: labels.hour } } }), config);
      return;
    }
    Plotly.react("chart-hours", [
      { x: hours, y: data.hourly, name: labels.scans, type: "bar", marker: { color: "#2c7be5" } },
      { x: hours, y: data.usual_hourly, name: labels.usual, type: "scatter", mode: "lines",
        line: { dash: "dash", color: "#666" } }
    ], layout({ xaxis: { automargin: true, title: { text: labels.hour } } }), config);
    Plotly.react("chart-trend", [
      { x: data.trend.map(function (d) { return d.day; }),
        y: data.trend.map(function (d) { return d.scans; }),
        name: labels.scans, type: "scatter", mode: "lines+markers", line: { color: "#2c7be5" } }
    ], layout({ xaxis: { automargin: true, tickformat: "%m-%d", title: { text: labels.day } } }),
    config);
    [["chart-streets", data.streets], ["chart-categories", data.categories]].forEach(function (pair) {
      var areas = pair[1];
      Plotly.react(pair[0], [
        { x: areas.map(name), y: areas.map(function (a) { return a.scans; }), name: labels.scans,
          type: "bar", marker: { color: "#2c7be5" } },
        { x: areas.map(name), y: areas.map(function (a) { return a.usual; }), name: labels.usual,
          type: "bar", marker: { color: "#b0b8c4" } }
      ], layout({ barmode: "group", xaxis: { automargin: true, tickangle: -45 } }), config);
    });
  }

  draw(page.data);
  if (page.live) {
    var counter = document.querySelector("[data-testid=counter]");
    var usual = document.querySelector("[data-testid=usual]");
    var format = new Intl.NumberFormat(document.documentElement.lang);
    window.setInterval(function () {
      fetch("/api/v1/analytics/overview?day=" + page.data.day, { credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          counter.textContent = format.format(data.scans);
          usual.textContent = format.format(Math.round(data.usual_so_far));
          draw(data);
        })
        .catch(function () { /* offline for a moment: the next tick tries again */ });
    }, 30000);
  }
}());
