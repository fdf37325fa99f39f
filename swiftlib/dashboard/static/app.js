/* SwiftDeploy dashboard: polls /api/state and /api/series, draws with uPlot (vendored).
 *
 * Everything the page knows is in window.swiftdeploy (state, chart columns, charts, timings),
 * for people poking at it in the console and for the browser test. Text from the server
 * (reasons, audit data) only ever goes in through textContent.
 */
(function () {
  "use strict";

  var WINDOW_SECONDS = 3600;   // what the charts keep
  var CHART_HEIGHT = 200;
  var COLORS = { stable: "#0969da", canary: "#bc4c00", weight: "#8250df" };

  var SD = window.swiftdeploy = {
    state: null,
    data: emptyData(),
    charts: {},
    lastT: null,
    polls: 0,
    readyMs: null,          // performance.now() when the charts were first drawn with the history
    firstSeriesCount: null,
    serverDownSince: null,
    lastAnswerAt: null,
    lastError: null
  };

  function emptyData() {
    return {
      t: [], weight: [],
      stable: { req_per_s: [], error_rate: [], p99_latency_ms: [] },
      canary: { req_per_s: [], error_rate: [], p99_latency_ms: [] }
    };
  }

  function $(id) { return document.getElementById(id); }

  function setText(id, text) { $(id).textContent = text == null ? "–" : String(text); }

  function clock(date) {
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(date.getHours()) + ":" + two(date.getMinutes()) + ":" + two(date.getSeconds());
  }

  function stampClock(stamp) {
    var d = stamp ? new Date(stamp) : null;
    return d && !isNaN(d.getTime()) ? clock(d) : "–";
  }

  var fmt = {
    rps: function (v) { return v == null ? "–" : v.toFixed(2); },
    rate: function (v) { return v == null ? "–" : (v * 100).toFixed(2) + "%"; },
    ms: function (v) { return v == null ? "–" : v.toFixed(0) + " ms"; },
    pct: function (v) { return v == null ? "–" : v.toFixed(0) + "%"; },
    secs: function (v) { return v == null ? "–" : v.toFixed(0) + "s"; }
  };

  // Axis ticks: as many decimals as the ticks need (0.25, 12, 480), never a clipped 100.00%.
  function tick(v) { return Math.abs(v) >= 100 ? v.toFixed(0) : String(+v.toFixed(3)); }
  var axis = {
    rps: tick,
    rate: function (v) { return tick(v * 100) + "%"; },
    ms: function (v) { return tick(v) + " ms"; },
    pct: function (v) { return tick(v) + "%"; }
  };

  // ------------------------------------------------------------ charts

  // The canary's line is dashed: where both tracks read the same (0% errors) stable shows through.
  // y from 0, with room above the highest value and never less than `floor` (a flat 0% stays low).
  function fromZero(floor) {
    return function (u, min, max) {
      var top = max == null || !isFinite(max) ? floor : Math.max(floor, max * 1.15);
      return [0, top];
    };
  }

  // x spans at least a minute, ending at the newest sample: the first points start at the left.
  function lastMinuteAtLeast(u, min, max) {
    if (min == null || max == null) { var now = Date.now() / 1000; return [now - 60, now]; }
    return [Math.min(min, max - 60), max];
  }

  function makeChart(id, series, format, axisFormat, yRange) {
    var el = $(id);
    var opts = {
      width: Math.max(300, el.clientWidth || 460),
      height: CHART_HEIGHT,
      scales: { x: { time: true, range: lastMinuteAtLeast }, y: { range: yRange } },
      axes: [{}, { size: 70, values: function (u, vals) { return vals.map(axisFormat); } }],
      series: [{}].concat(series.map(function (s) {
        return { label: s.label, stroke: s.color, width: 2, dash: s.dash, spanGaps: false,
                 points: { size: 4 }, value: function (u, v) { return format(v); } };
      }))
    };
    return new uPlot(opts, [[]].concat(series.map(function () { return []; })), el);
  }

  function trackSeries() {
    return [{ label: "stable", color: COLORS.stable }, { label: "canary", color: COLORS.canary, dash: [8, 5] }];
  }

  function initCharts() {
    if (typeof uPlot === "undefined") { throw new Error("the chart library did not load (/static/vendor/uPlot.iife.min.js)"); }
    SD.charts.rps = makeChart("chart-rps", trackSeries(), fmt.rps, axis.rps, fromZero(1));
    SD.charts.errors = makeChart("chart-errors", trackSeries(), fmt.rate, axis.rate, fromZero(0.01));
    SD.charts.p99 = makeChart("chart-p99", trackSeries(), fmt.ms, axis.ms, fromZero(10));
    SD.charts.weight = makeChart("chart-weight", [{ label: "canary %", color: COLORS.weight }], fmt.pct, axis.pct,
                                 function () { return [0, 100]; });
    window.addEventListener("resize", function () {
      Object.keys(SD.charts).forEach(function (k) {
        var c = SD.charts[k];
        c.setSize({ width: Math.max(300, c.root.parentNode.clientWidth), height: CHART_HEIGHT });
      });
    });
  }

  function drawCharts() {
    var D = SD.data;
    SD.charts.rps.setData([D.t, D.stable.req_per_s, D.canary.req_per_s]);
    SD.charts.errors.setData([D.t, D.stable.error_rate, D.canary.error_rate]);
    SD.charts.p99.setData([D.t, D.stable.p99_latency_ms, D.canary.p99_latency_ms]);
    SD.charts.weight.setData([D.t, D.weight]);
  }

  function columns(D) {
    return [D.t, D.weight, D.stable.req_per_s, D.stable.error_rate, D.stable.p99_latency_ms,
            D.canary.req_per_s, D.canary.error_rate, D.canary.p99_latency_ms];
  }

  function pushNullRow(t) {
    columns(SD.data).forEach(function (col, i) { col.push(i === 0 ? t : null); });
  }

  // Merge one /api/series answer: it holds every sample at or after `since`, so the tail
  // from `since` on is replaced by it; a pause longer than gap_seconds breaks the lines.
  function merge(s) {
    var D = SD.data, cols = columns(D), incoming = columns(s), before = D.t.length, lastBefore = SD.lastT;
    if (s.since != null) {
      var keep = D.t.length;
      while (keep > 0 && D.t[keep - 1] >= s.since) { keep--; }
      cols.forEach(function (col) { col.length = keep; });
    }
    if (D.t.length && s.t.length && s.gap_seconds != null && s.t[0] - D.t[D.t.length - 1] > s.gap_seconds) {
      pushNullRow(D.t[D.t.length - 1] + 1);
    }
    cols.forEach(function (col, i) { Array.prototype.push.apply(col, incoming[i]); });
    if (D.t.length) {
      var cutoff = D.t[D.t.length - 1] - WINDOW_SECONDS, drop = 0;
      while (drop < D.t.length && D.t[drop] < cutoff) { drop++; }
      if (drop) { cols.forEach(function (col) { col.splice(0, drop); }); }
      SD.lastT = D.t[D.t.length - 1];
    }
    return D.t.length !== before || SD.lastT !== lastBefore || s.t.length > 1;
  }

  // ------------------------------------------------------------ state

  function renderCards(st) {
    var f = st.frame;
    setText("host", st.host);
    if (!f) {
      ["mode", "version", "weight", "split", "rps", "errors", "p99", "chaos", "engine", "rps-sub", "errors-sub", "p99-sub"].forEach(function (id) { setText(id, null); });
      return;
    }
    setText("mode", f.mode + (f.maintenance ? " · maintenance" : ""));
    setText("version", f.version + (f.canary_version ? "  →  canary " + f.canary_version : ""));
    setText("weight", fmt.pct(f.weight));
    setText("split", f.split_text);
    var whose = f.judged === "canary" ? "canary: what the gate judges" : (f.judged || "–") + " track";
    ["rps-sub", "errors-sub", "p99-sub"].forEach(function (id) { setText(id, whose); });
    setText("rps", fmt.rps(f.req_per_s));
    setText("errors", fmt.rate(f.error_rate));
    setText("p99", fmt.ms(f.p99_latency_ms));
    setText("chaos", f.chaos);
    setText("engine", (f.engine || "?") + " engine");
    // HTTPS deployments only: which names the served certificate covers and how long it has left.
    document.getElementById("certificate-card").hidden = !f.certificate;
    setText("certificate", f.certificate);
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text == null ? "–" : String(text);
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }

  function renderTracks(st) {
    var body = $("tracks").tBodies[0];
    body.textContent = "";
    ((st.frame && st.frame.tracks) || []).forEach(function (t) {
      var tr = document.createElement("tr");
      cell(tr, t.name);
      cell(tr, fmt.pct(t.weight), "num");
      cell(tr, t.chaos);
      cell(tr, fmt.rps(t.req_per_s), "num");
      cell(tr, fmt.rate(t.error_rate), "num");
      cell(tr, fmt.ms(t.p99_latency_ms), "num");
      cell(tr, t.requests == null ? null : t.requests + " in " + fmt.secs(t.window_seconds), "num");
      cell(tr, fmt.secs(t.uptime_seconds), "num");
      body.appendChild(tr);
    });
  }

  function renderPolicies(st) {
    var list = $("policies");
    list.textContent = "";
    var policies = (st.frame && st.frame.policies) || [];
    policies.forEach(function (p) {
      var li = document.createElement("li");
      li.className = p.allow ? "allow" : "deny";
      li.setAttribute("data-domain", p.domain);
      var head = document.createElement("div");
      var verdict = document.createElement("span");
      verdict.className = "verdict";
      verdict.textContent = p.verdict;
      head.appendChild(verdict);
      head.appendChild(document.createTextNode(p.domain + (p.question ? " (" + p.question + ")" : "")));
      li.appendChild(head);
      var ul = document.createElement("ul");
      ul.className = "reasons";
      (p.reasons.length ? p.reasons : ["(no reasons given)"]).forEach(function (r) {
        var item = document.createElement("li");
        item.textContent = r;
        ul.appendChild(item);
      });
      li.appendChild(ul);
      list.appendChild(li);
    });
    var note = st.frame ? (st.frame.engine || "?") + " engine, frame of " + stampClock(st.frame_at) : "no frame yet";
    if (st.frame && st.frame.metrics_source === "prometheus") {
      if (st.frame.numbers_from === "prometheus") {
        note += "; numbers from Prometheus, as the gate reads them";
      } else {
        note += "; judged on the scraped numbers shown here (inv promote asks Prometheus)";
        if (st.frame.numbers_note) { note += "; " + st.frame.numbers_note; }
      }
    }
    if (st.stale) { note += " (old: see the banner)"; }
    $("policies-note").textContent = note;
  }

  function renderAudit(st) {
    var body = $("audit").tBodies[0];
    body.textContent = "";
    (st.audit || []).forEach(function (e) {
      var tr = document.createElement("tr");
      tr.className = e.level;
      cell(tr, stampClock(e.timestamp)).title = e.timestamp || "";
      cell(tr, e.event_type);
      cell(tr, e.host);
      cell(tr, e.actor);
      cell(tr, e.summary);
      body.appendChild(tr);
    });
    $("audit-note").textContent = st.audit_error ? "cannot read the audit trail: " + st.audit_error
      : (st.audit && st.audit.length ? "newest first, read-only" : "no events yet");
  }

  function renderRollout(st) {
    var r = st.rollout;
    $("rollout").hidden = !r;
    if (!r) { return; }
    $("rollout-fill").style.width = (100 * r.fraction).toFixed(1) + "%";
    $("rollout-text").textContent = r.text + (r.source === "inferred" ? " (from the audit trail)" : "");
  }

  function showBanner(text, down) {
    var b = $("banner");
    b.textContent = text;
    b.className = "banner" + (down ? " down" : "");
    b.hidden = false;
  }

  function renderState(st) {
    SD.state = st;
    document.body.classList.toggle("stale", !!st.stale);
    renderCards(st);
    renderTracks(st);
    renderPolicies(st);
    renderAudit(st);
    renderRollout(st);
    var notes = [st.record_error, st.state_error && "target state: " + st.state_error].filter(Boolean);
    if (st.missing) {
      showBanner(st.missing.text, false);
    } else if (notes.length) {
      showBanner(notes.join("; "), false);
    } else if (st.frame && st.frame.maintenance) {
      showBanner("maintenance " + st.frame.maintenance, false);
    } else {
      $("banner").hidden = true;
    }
    setText("updated", st.frame_at ? "frame at " + stampClock(st.frame_at) + " · every " + st.interval + "s"
                                    : "every " + st.interval + "s");
  }

  // ------------------------------------------------------------ polling

  function getJSON(url) {
    return fetch(url, { cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error(url + ": HTTP " + r.status); }
      return r.json();
    });
  }

  function seriesURL() {
    return "/api/series" + (SD.lastT == null ? "" : "?since=" + encodeURIComponent(SD.lastT));
  }

  function nextDelay() {
    var s = SD.state && SD.state.interval ? SD.state.interval : 2;
    return 1000 * Math.min(5, Math.max(0.5, s));
  }

  function render(answers) {
    try {
      renderState(answers[0]);
      if (merge(answers[1])) { drawCharts(); }
      if (SD.readyMs === null) {
        SD.readyMs = performance.now();
        SD.firstSeriesCount = answers[1].count;
      }
    } catch (err) {  // a page bug shows itself and the next poll tries again
      SD.lastError = "page error: " + String(err && err.message || err);
      showBanner(SD.lastError, true);
    }
  }

  function fetchBoth() { return Promise.all([getJSON("/api/state"), getJSON(seriesURL())]); }

  function poll(pending) {
    SD.polls++;
    (pending || fetchBoth()).then(function (answers) {
      SD.serverDownSince = null;
      SD.lastAnswerAt = new Date();
      render(answers);
    }, function (err) {
      SD.lastError = String(err && err.message || err);
      if (SD.serverDownSince === null) { SD.serverDownSince = new Date(); }
      showBanner("no data since " + clock(SD.lastAnswerAt || SD.serverDownSince) +
                 ": the dashboard server does not answer (" + SD.lastError + ")", true);
    }).then(function () { setTimeout(function () { poll(); }, nextDelay()); });
  }

  // The first answers are asked for before the charts are built: both take a while.
  var first = fetchBoth();
  try {
    initCharts();
  } catch (err) {
    SD.lastError = String(err && err.message || err);
    showBanner(SD.lastError, true);
    first.catch(function () {});
    return;
  }
  poll(first);
})();
