// Interactive charts of the experiment page, drawn with uPlot (static/vendor/uplot).
//
// The metric curves come from the JSON endpoint named in data-curves-url (experiments/curves.py:
// every run downsampled to the chart's width on the server); the quality-versus-cost points come
// in a data-scatter attribute, a drift comparison's differences in data-drift. The evidence region is swapped by htmx every few seconds while
// evidence can arrive: each chart's plot element is hx-preserve'd, so zoom, log scale and
// smoothing survive a swap, and the curves are fetched again only when the point count that the
// region shows (data-version) has changed. Zooming fetches the window again (from/to), so a
// million-point run shows its detail at any zoom.
(function () {
  "use strict";

  const PALETTE = ["#2f5bea", "#c62828", "#1a7f37", "#b35c00", "#8e44ad", "#00838f", "#6d4c41"];
  const HEIGHT = 300;
  const NULL_EXPAND = 2; // uPlot.join: a null is a gap, kept wide enough to show

  function colorFor(variants, variant) {
    return PALETTE[variants.indexOf(variant) % PALETTE.length];
  }

  function format(value) {
    if (value == null) return "—";
    const size = Math.abs(value);
    return size !== 0 && (size < 1e-3 || size >= 1e6) ? value.toExponential(3) : +value.toPrecision(5) + "";
  }

  // TensorBoard's debiased exponential moving average; gaps stay gaps and do not reset it.
  function smooth(values, weight) {
    if (!weight) return values;
    let last = 0;
    let seen = 0;
    return values.map(function (value) {
      if (value == null) return value;
      last = last * weight + (1 - weight) * value;
      seen += 1;
      return last / (1 - Math.pow(weight, seen));
    });
  }

  function positive(values) {
    return values.map(function (value) { return value != null && value <= 0 ? null : value; });
  }

  // --- metric curves -------------------------------------------------------------------------

  // A run's colour: its variant's, or its variant and platform's when the runs differ in
  // platform (the same recipe on H100 and MI300X must not share a colour).
  function colorKey(payload, run) {
    const platforms = new Set(payload.runs.map(function (r) { return r.platform || ""; }));
    return platforms.size > 1 ? run.variant + " · " + (run.platform || "") : run.variant;
  }

  function curveTables(payload, state) {
    const variants = Array.from(new Set(payload.runs.map(function (run) { return colorKey(payload, run); }))).sort();
    const tables = [];
    const modes = [];
    const series = [{ label: "step", value: function (u, v) { return v == null ? "—" : Math.round(v); } }];
    const bands = [];
    const shape = function (values) {
      const smoothed = smooth(values, state.smoothing);
      return state.log ? positive(smoothed) : smoothed;
    };
    payload.runs.forEach(function (run) {
      tables.push([run.steps, shape(run.values)]);
      modes.push([0, NULL_EXPAND]);
      series.push({
        label: run.name, stroke: colorFor(variants, colorKey(payload, run)), width: state.band ? 0.6 : 1.25,
        alpha: state.band ? 0.35 : 1, value: function (u, v) { return format(v); },
      });
    });
    if (state.band) {
      payload.bands.forEach(function (band) {
        const color = PALETTE[Math.max(variants.findIndex(function (key) { return key.split(" · ")[0] === band.variant; }), 0) % PALETTE.length];
        tables.push([band.steps, shape(band.mean), shape(band.low), shape(band.high)]);
        modes.push([0, NULL_EXPAND, NULL_EXPAND, NULL_EXPAND]);
        const first = series.length;
        series.push({ label: band.variant + " mean (" + band.runs + " runs)", stroke: color, width: 2.5,
          value: function (u, v) { return format(v); } });
        series.push({ label: band.variant + " − std", stroke: color, width: 0.5, dash: [4, 3],
          value: function (u, v) { return format(v); } });
        series.push({ label: band.variant + " + std", stroke: color, width: 0.5, dash: [4, 3],
          value: function (u, v) { return format(v); } });
        bands.push({ series: [first + 2, first + 1], fill: color + "2e" });
      });
    }
    return { data: uPlot.join(tables, modes), series: series, bands: bands };
  }

  function buildCurves(holder) {
    const plot = holder.querySelector(".chart-plot");
    const state = holder.chartState;
    const built = curveTables(state.payload, state);
    const options = {
      width: Math.max(plot.clientWidth, 300),
      height: HEIGHT,
      series: built.series,
      bands: built.bands,
      scales: { x: { time: false }, y: state.log ? { distr: 3, log: 10 } : {} },
      axes: [{ label: "step" }, { label: state.payload.metric }],
      cursor: {
        drag: { x: true, y: false },
        // A double-click goes back to the whole run, which zoomed-in data no longer holds.
        bind: { dblclick: function () { return function () { showWhole(holder); return null; }; } },
      },
      legend: { live: true },
      hooks: {
        // After a drag: zoom at once, then fetch the window again at full resolution.
        setSelect: [function (u) {
          if (u.select.width < 2) return;
          state.zoomed = true;
          state.range = [u.posToVal(u.select.left, "x"), u.posToVal(u.select.left + u.select.width, "x")];
          loadCurves(holder, state.range);
        }],
      },
    };
    // A rebuild (log scale, smoothing, new points) keeps the reader's zoom.
    const keep = state.zoomed ? state.range : null;
    if (state.plot) state.plot.destroy();
    state.plot = new uPlot(options, built.data, plot);
    if (keep) state.plot.setScale("x", { min: keep[0], max: keep[1] });
    plot.dataset.ready = "true";
  }

  function showWhole(holder) {
    const state = holder.chartState;
    state.zoomed = false;
    state.range = null;
    if (!state.overview || state.overviewStale) {
      loadCurves(holder, null);
      return;
    }
    state.payload = state.overview;
    buildCurves(holder);
  }

  // The curves over `range` of steps (null: the whole run), downsampled to the plot's width.
  function loadCurves(holder, range) {
    const state = holder.chartState;
    const plot = holder.querySelector(".chart-plot");
    const width = Math.max(Math.round(plot.clientWidth || 800), 100);
    let url = state.url + "?metric=" + encodeURIComponent(state.metric) + "&width=" + width;
    if (range) url += "&from=" + Math.floor(range[0]) + "&to=" + Math.ceil(range[1]);
    const asked = ++state.requests;
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("the curves could not be loaded (" + response.status + ")");
        return response.json();
      })
      .then(function (payload) {
        if (asked !== state.requests) return; // a later zoom or refresh answers instead
        state.payload = payload;
        if (!range) {
          state.overview = payload;
          state.overviewStale = false;
        }
        buildCurves(holder);
      })
      .catch(function (error) {
        plot.textContent = String(error.message || error);
      });
  }

  // On set-up, and whenever the region reports new points: fetch what is shown again.
  function refresh(holder, wrapper) {
    const state = holder.chartState;
    if (state.metric !== wrapper.dataset.metric) {
      state.zoomed = false;
      state.range = null;
    }
    state.url = wrapper.dataset.curvesUrl;
    state.metric = wrapper.dataset.metric;
    state.version = wrapper.dataset.version;
    state.overviewStale = true;
    loadCurves(holder, state.zoomed ? state.range : null);
  }

  function setUpCurves(wrapper) {
    const holder = wrapper.querySelector(".curve-chart");
    if (!holder) return;
    if (holder.chartState) {
      // Preserved across a swap: fetch again only if new points arrived (or, as more metrics
      // are logged, the page picked another one).
      const state = holder.chartState;
      if (state.version !== wrapper.dataset.version || state.metric !== wrapper.dataset.metric) {
        refresh(holder, wrapper);
      }
      return;
    }
    holder.chartState = { log: false, smoothing: 0, band: false, zoomed: false, range: null, requests: 0 };
    const controls = holder.querySelector(".chart-controls");
    controls.hidden = false;
    controls.addEventListener("input", function (event) {
      const control = event.target.dataset.control;
      const state = holder.chartState;
      if (control === "log") state.log = event.target.checked;
      if (control === "band") state.band = event.target.checked;
      if (control === "smoothing") {
        state.smoothing = parseFloat(event.target.value);
        controls.querySelector("output").textContent = state.smoothing.toFixed(2);
      }
      if (state.payload) buildCurves(holder);
    });
    controls.addEventListener("click", function (event) {
      if (event.target.dataset.control === "reset") showWhole(holder);
    });
    refresh(holder, wrapper);
  }

  // --- quality versus cost -------------------------------------------------------------------

  function buildScatter(wrapper) {
    const holder = wrapper.querySelector(".scatter-chart");
    if (!holder) return;
    const source = wrapper.dataset.scatter;
    if (holder.chartSource === source) return;
    const chart = JSON.parse(source);
    const points = chart.points.slice().sort(function (a, b) { return a.x - b.x; });
    const xs = points.map(function (p) { return p.x; });
    const labels = [null];
    const data = [xs];
    const series = [{ label: chart.x_label, value: function (u, v) { return format(v); } }];
    // A group's points, and (on the portfolio's plot) its dominated points as a faint series.
    function addDots(group, label, keep, faint) {
      const color = faint ? group.color + "4d" : group.color; // #rrggbb + alpha 0.3
      labels.push(points.map(function (p) { return p.group === group.name && keep(p) ? p.label : null; }));
      data.push(points.map(function (p) { return p.group === group.name && keep(p) ? p.y : null; }));
      series.push({
        label: label, stroke: color, fill: color, paths: function () { return null; },
        points: { show: true, size: 9, fill: color, stroke: color },
        value: function (u, v, si, i) { return v == null || i == null ? "—" : labels[si][i] + ": " + format(v); },
      });
    }
    chart.groups.forEach(function (group) {
      if (!chart.dim_dominated) {
        addDots(group, group.name, function () { return true; }, false);
        return;
      }
      const mine = points.filter(function (p) { return p.group === group.name; });
      if (mine.some(function (p) { return p.front; })) {
        addDots(group, group.name, function (p) { return p.front; }, false);
      }
      if (mine.some(function (p) { return !p.front; })) {
        addDots(group, group.name + " (dominated)", function (p) { return !p.front; }, true);
      }
    });
    labels.push(points.map(function (p) { return p.front ? p.label : null; }));
    data.push(points.map(function (p) { return p.front ? p.y : null; }));
    series.push({ label: "Pareto front", stroke: "#1f2328", width: 1.5, dash: [6, 4], spanGaps: true,
      points: { show: false }, value: function (u, v) { return format(v); } });
    const plot = holder.querySelector(".chart-plot");
    if (holder.chartPlot) holder.chartPlot.destroy();
    holder.chartPlot = new uPlot({
      width: Math.max(plot.clientWidth, 300), height: HEIGHT, series: series, data: data,
      scales: { x: { time: false } },
      axes: [{ label: chart.x_label + " (lower is better)" },
        { label: chart.y_label + " (" + (chart.y_better || "higher") + " is better)" }],
      cursor: { drag: { x: true, y: true, uni: 20 } },
    }, data, plot);
    holder.chartSource = source;
    plot.dataset.ready = "true";
  }

  // --- drift: |difference| from a reference run over steps (experiments/drift.py) ----------

  function buildDrift(holder) {
    const state = holder.chartState;
    const chart = state.chart;
    const kind = state.kind;
    const tables = [];
    const modes = [];
    const series = [{ label: "step", value: function (u, v) { return v == null ? "—" : Math.round(v); } }];
    chart.series.forEach(function (run, index) {
      // On a log scale an exact match (0) has no place: a gap rather than a wrong line.
      tables.push([run.steps, state.log ? positive(run[kind]) : run[kind]]);
      modes.push([0, NULL_EXPAND]);
      series.push({ label: run.name + (run.platform ? " (" + run.platform + ")" : ""),
        stroke: PALETTE[index % PALETTE.length], width: 1.25, value: function (u, v) { return format(v); } });
    });
    const tolerance = chart.tolerance[kind];
    const plot = holder.querySelector(".chart-plot");
    const options = {
      width: Math.max(plot.clientWidth, 300),
      height: HEIGHT,
      series: series,
      scales: { x: { time: false }, y: state.log ? { distr: 3, log: 10 } : {} },
      axes: [{ label: "step" }, { label: (kind === "rel" ? "relative " : "|Δ| ") + chart.metric + " vs " + chart.reference,
        size: 70, values: function (u, splits) { return splits.map(format); } }],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      hooks: {
        draw: [function (u) {
          const context = u.ctx;
          context.save();
          context.lineWidth = 1;
          if (tolerance != null && tolerance > 0) {
            const y = u.valToPos(tolerance, "y", true);
            context.strokeStyle = "#1f2328";
            context.setLineDash([6, 4]);
            context.beginPath();
            context.moveTo(u.bbox.left, y);
            context.lineTo(u.bbox.left + u.bbox.width, y);
            context.stroke();
          }
          chart.series.forEach(function (run, index) {
            if (run.first_divergent_step == null) return;
            const x = u.valToPos(run.first_divergent_step, "x", true);
            context.strokeStyle = PALETTE[index % PALETTE.length];
            context.setLineDash([2, 3]);
            context.beginPath();
            context.moveTo(x, u.bbox.top);
            context.lineTo(x, u.bbox.top + u.bbox.height);
            context.stroke();
          });
          context.restore();
        }],
      },
    };
    if (state.plot) state.plot.destroy();
    state.plot = new uPlot(options, uPlot.join(tables, modes), plot);
    plot.dataset.ready = "true";
  }

  function setUpDrift(wrapper) {
    const holder = wrapper.querySelector(".drift-chart");
    if (!holder || holder.chartState) return;
    const controls = holder.querySelector(".chart-controls");
    holder.chartState = { chart: JSON.parse(wrapper.dataset.drift), kind: "abs",
      log: controls.querySelector("[data-control=log]").checked };
    controls.hidden = false;
    controls.addEventListener("input", function (event) {
      const control = event.target.dataset.control;
      if (control === "log") holder.chartState.log = event.target.checked;
      if (control === "kind") holder.chartState.kind = event.target.value;
      buildDrift(holder);
    });
    buildDrift(holder);
  }

  function setUp(root) {
    if (typeof uPlot === "undefined") return;
    root.querySelectorAll("[data-curves-url]").forEach(setUpCurves);
    root.querySelectorAll("[data-scatter]").forEach(buildScatter);
    root.querySelectorAll("[data-drift]").forEach(setUpDrift);
  }

  function resize() {
    document.querySelectorAll(".curve-chart, .scatter-chart, .drift-chart").forEach(function (holder) {
      const chart = holder.chartState ? holder.chartState.plot : holder.chartPlot;
      const plot = holder.querySelector(".chart-plot");
      if (chart) chart.setSize({ width: Math.max(plot.clientWidth, 300), height: HEIGHT });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:afterSettle", function () { setUp(document); });
  window.addEventListener("resize", resize);
})();
