// Draws the trend of the three 30-day rates (up to 90 days, from the first snapshot) with ECharts
// (served from our static files).
(function () {
  "use strict";
  var el = document.getElementById("trend-chart");
  if (!el || typeof echarts === "undefined") {
    return;
  }
  var points = JSON.parse(document.getElementById("trend-data").textContent);
  var labels = JSON.parse(el.dataset.labels);
  var keys = ["dispute_refund", "quality_refund", "intervention"];
  var chart = echarts.init(el);
  chart.on("finished", function () { el.dataset.drawn = "1"; });
  chart.setOption({
    animation: false,
    tooltip: {
      trigger: "axis",
      valueFormatter: function (v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(2) + "%"; }
    },
    legend: { data: keys.map(function (k) { return labels[k]; }) },
    grid: { left: 60, right: 20, top: 40, bottom: 30 },
    xAxis: { type: "category", data: points.map(function (p) { return p.date; }) },
    yAxis: { type: "value", axisLabel: { formatter: function (v) { return (v * 100).toFixed(2) + "%"; } } },
    series: keys.map(function (k) {
      return { name: labels[k], type: "line", connectNulls: false, showSymbol: false,
               data: points.map(function (p) { return p[k]; }) };
    })
  });
  window.addEventListener("resize", function () { chart.resize(); });
}());
