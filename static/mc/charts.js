/* Charts from data the server rendered: <canvas data-chart="<id of a json_script>">. Chart.js is
 * vendored (static/vendor/chartjs). Each chart also has its numbers in a table for screen readers. */
(function () {
  "use strict";
  if (!window.Chart) return;
  const COLORS = ["#5cb0ff", "#4cc760", "#e0a82e", "#c4a5ff", "#ff6b63", "#7cd3c7", "#f29ed8", "#b8c46a", "#9aa7ff", "#ffb27a"];
  const Chart = window.Chart;
  Chart.defaults.color = "#a9b8c6";
  Chart.defaults.borderColor = "#2a3642";
  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

  // A percentage axis ends a little above the highest value (at most 100): 0.2% on a 0-100 axis
  // draws nothing a person can see.
  function pctAxisTop(spec) {
    if (spec.unit !== "pct") return undefined;
    let top = 0;
    for (const set of spec.datasets) for (const v of set.data) top = Math.max(top, Number(v) || 0);
    return Math.min(100, Math.max(1, Math.ceil(top * 1.25)));
  }

  // The pages' money rule (mission_control/display.py): cents from a cent up, two significant
  // digits below.
  function money(value) {
    const amount = Math.abs(Number(value) || 0);
    const sign = Number(value) < 0 ? "-" : "";
    if (amount === 0) return "$0.00";
    if (amount >= 0.01) {
      return sign + "$" + amount.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    const places = Math.min(20, 1 - Math.floor(Math.log10(amount)));
    return sign + "$" + amount.toFixed(places).replace(/0+$/, "");
  }

  function format(unit, value) {
    if (unit === "usd") return money(value);
    if (unit === "pct") return value + "%";
    return String(value);
  }

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    const spec = JSON.parse(source.textContent);
    const line = spec.type === "line";
    new Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (d, i) {
          const color = COLORS[i % COLORS.length];
          return Object.assign({
            backgroundColor: line ? color + "33" : color,
            borderColor: color,
            borderWidth: line ? 2 : 0,
            pointRadius: 0,
            fill: line && spec.datasets.length === 1,
            tension: 0.25,
          }, d);
        }),
      },
      options: {
        maintainAspectRatio: false,
        animation: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : { duration: 300 },
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { display: spec.datasets.length > 1, position: "bottom", labels: { boxWidth: 12 } },
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + format(spec.unit, ctx.parsed.y); } } },
        },
        scales: {
          x: { stacked: !!spec.stacked, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          y: { stacked: !!spec.stacked, beginAtZero: true, max: pctAxisTop(spec),
               ticks: { callback: function (v) { return format(spec.unit, v); } } },
        },
      },
    });
  });
})();
