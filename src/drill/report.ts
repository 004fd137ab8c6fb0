/**
 * `seatbelt drill ... --report FILE.html`: one self-contained HTML page (no network at all: a CSP
 * of `default-src 'none'`, no external fonts, scripts or images). The summary table is rendered
 * here, every string HTML-escaped; the summary itself is embedded as JSON (with `<` written
 * `\u003c`, so no string in it can close the script element) and a small inline script draws three
 * charts as inline SVG: buffers, rates, latency. When it has drawn them it sets
 * `document.body.dataset.charts` to their number ("3"); if it throws, it writes the error into
 * `#report-error` and sets `data-charts="error"`.
 */

import type { DrillSummary } from './types.js';

export const REPORT_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * JSON for a `<script type="application/json">` element: `<`, `>` and `&` (which can only occur
 * inside JSON strings) as \u escapes, so `</script>` or `<!--` in any string cannot end or confuse
 * the element; U+2028/U+2029 too, for good measure. `JSON.parse` gives back the same value.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function reportTitle(summary: DrillSummary): string {
  return `Seatbelt drill ${summary.drill} (${summary.unbuckled ? 'unbuckled' : 'buckled'})`;
}

export function renderReport(summary: DrillSummary): string {
  const title = reportTitle(summary);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${escapeHtml(describeRun(summary))}</p>
</header>
${summaryTable(summary)}
${cutsTable(summary)}<div id="report-error" role="alert"></div>
<section class="charts">
<figure class="chart" id="chart-buffers"></figure>
<figure class="chart" id="chart-rates"></figure>
<figure class="chart" id="chart-latency"></figure>
</section>
<script type="application/json" id="drill-data">${jsonForScript(summary)}</script>
<script>${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}

function describeRun(s: DrillSummary): string {
  return [
    `${formatNumber(s.zones)} zones`,
    `${formatNumber(s.jobs)} push jobs`,
    `blank config for ${formatNumber(s.blankSeconds)} s`,
    `run of ${formatNumber(s.durationSeconds)} s`,
    s.unbuckled ? 'every Buftee limit OFF, under a safety cap' : 'Buftee limits on',
  ].join(' · ');
}

type Tone = 'good' | 'bad' | 'warn' | '';

function summaryTable(s: DrillSummary): string {
  const lossPct = s.configuredIngested === 0 ? 0 : (100 * s.configuredLost) / s.configuredIngested;
  const overLimit = s.bufferLimit !== null && s.maxBuffers > s.bufferLimit;
  const rows: [string, string, Tone][] = [
    ['Configured jobs: ingested', formatNumber(s.configuredIngested), ''],
    ['Configured jobs: delivered', formatNumber(s.configuredDelivered), ''],
    ['Configured jobs: lost', `${formatNumber(s.configuredLost)} (${lossPct.toFixed(3)}%)`, s.configuredLost === 0 ? 'good' : 'warn'],
    [
      'Most buffers in Buftee / limit',
      `${formatNumber(s.maxBuffers)} / ${s.bufferLimit === null ? 'OFF' : formatNumber(s.bufferLimit)}`,
      overLimit ? 'bad' : s.bufferLimit === null ? 'warn' : 'good',
    ],
    ['Recovery after the revert', s.recoverySeconds === null ? 'n/a (did not recover within the run)' : `${formatNumber(s.recoverySeconds)} s`, s.recoverySeconds === null ? 'warn' : ''],
    ['Stage restarts', formatNumber(s.restarts), s.restarts === 0 ? '' : 'warn'],
    ['stats() p99', `${formatNumber(s.statsP99Ms)} ms`, ''],
    ['Peak RSS', `${formatNumber(s.peakRssMb)} MB`, ''],
    ['Dropped, by reason', formatCounts(s.droppedByReason), ''],
    ['Configured jobs\' drops, by reason', formatCounts(s.configuredDroppedByReason ?? {}), ''],
    ['Ledger', s.ledgerBalanced ? 'balanced' : 'NOT balanced', s.ledgerBalanced ? 'good' : 'bad'],
    ['Stopped by', s.stoppedBy === null ? '— (ran to its end)' : s.stoppedBy, s.stoppedBy === null ? '' : 'warn'],
    ['Alerts', formatCounts(s.alerts), ''],
  ];
  const body = rows
    .map(([name, value, tone]) => `<tr><th scope="row">${escapeHtml(name)}</th><td${tone === '' ? '' : ` class="${tone}"`}>${escapeHtml(value)}</td></tr>`)
    .join('\n');
  return `<table class="summary">\n<caption>Summary</caption>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

function cutsTable(s: DrillSummary): string {
  if (s.cuts === undefined || Object.keys(s.cuts).length === 0) return '';
  const rows = Object.entries(s.cuts)
    .map(([stage, { kills, recoverMs }]) => {
      const times = recoverMs.length === 0 ? '—' : recoverMs.map((ms) => formatNumber(ms)).join(', ');
      return `<tr><th scope="row">${escapeHtml(stage)}</th><td>${escapeHtml(formatNumber(kills))}</td><td>${escapeHtml(times)}</td></tr>`;
    })
    .join('\n');
  return `<table class="cuts">\n<caption>Cuts</caption>\n<thead><tr><th scope="col">Stage</th><th scope="col">Kills</th><th scope="col">Successor running after (ms)</th></tr></thead>\n<tbody>\n${rows}\n</tbody>\n</table>\n`;
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

function formatCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? 'none' : entries.map(([name, n]) => `${name} ${formatNumber(n)}`).join(', ');
}

const STYLE = `
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --panel: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1040px; padding: 24px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 22px; margin: 0 0 4px; }
.meta { color: var(--muted); margin: 0 0 16px; }
table { border-collapse: collapse; margin: 0 0 20px; min-width: 60%; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { text-align: left; padding: 4px 12px 4px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 500; color: var(--muted); white-space: nowrap; }
td { font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
td.good { color: #1a7f37; }
td.warn { color: #9a6700; }
td.bad { color: #cf222e; font-weight: 600; }
#report-error { color: #cf222e; background: #ffebe9; border: 1px solid #ff8182; padding: 8px 12px; margin: 0 0 16px; white-space: pre-wrap; font-family: ui-monospace, monospace; }
#report-error:empty { display: none; }
figure.chart { margin: 0 0 24px; padding: 12px; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
figure.chart svg { display: block; width: 100%; height: auto; }
svg text { font: 12px system-ui, sans-serif; fill: var(--muted); }
svg text.title { font-size: 15px; font-weight: 600; fill: var(--fg); }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { stroke: var(--muted); stroke-width: 1; }
svg .blank { fill: rgba(207, 34, 46, 0.09); }
svg .series { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin-top: 6px; color: var(--muted); font-size: 12px; }
.legend .item { display: inline-flex; align-items: center; gap: 6px; }
.legend .swatch { display: inline-block; width: 22px; height: 0; border-top: 2px solid; }
.legend .swatch.band { height: 10px; border: 0; background: rgba(207, 34, 46, 0.18); }
`;

/**
 * The charts, drawn in the browser from #drill-data. Plain ES2017 in a string (no libraries); it
 * sets text with textContent only, so no name in the data can become markup. It must contain no
 * backtick, no dollar-brace and no closing script tag.
 */
const CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var W = 960, H = 320, ML = 66, MR = 20, MT = 40, MB = 46;
  var PALETTE = ['#0969da', '#bf3989', '#1a7f37', '#bc4c00', '#8250df', '#57606a', '#0598bc', '#9a6700', '#cf222e', '#6e7781'];
  var STAGE_ORDER = ['source', 'logfwdr', 'logreceiver', 'buftee', 'logpush', 'main'];

  function svg(tag, attrs, parent) {
    var el = document.createElementNS(SVG_NS, tag);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) el.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(el);
    return el;
  }
  function html(tag, cls, parent, text) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined) el.textContent = text;
    if (parent) parent.appendChild(el);
    return el;
  }
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : null; }
  function sum(record) {
    var total = 0;
    if (record && typeof record === 'object') for (var k in record) { var v = num(record[k]); if (v !== null) total += v; }
    return total;
  }
  function round(v) { return Number(v.toPrecision(12)); }
  function niceStep(max, count) {
    var raw = max / count;
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }
  function ticks(max, count, integer) {
    if (!(max > 0)) max = 1;
    var step = niceStep(max, count);
    if (integer && step < 1) step = 1;
    var n = Math.ceil(round(max / step));
    var out = [];
    for (var i = 0; i <= n; i++) out.push(round(i * step));
    return { top: round(n * step), values: out };
  }
  function fmt(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return round(v / 1e9) + 'G';
    if (a >= 1e6) return round(v / 1e6) + 'M';
    if (a >= 1e3) return round(v / 1e3) + 'k';
    return String(round(Math.round(v * 100) / 100));
  }

  /** spec: { id, title, yLabel, xMax, series: [{ name, color, dash, points: [[x, y|null]] }], bands: [[x0, x1]], limit: { y, label } | null } */
  function lineChart(spec) {
    var figure = document.getElementById(spec.id);
    if (!figure) throw new Error('no element #' + spec.id);
    while (figure.firstChild) figure.removeChild(figure.firstChild);
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': spec.title, 'class': 'chart-svg' }, figure);
    svg('title', {}, root).textContent = spec.title;
    var yMax = spec.limit ? spec.limit.y : 0;
    var any = false;
    spec.series.forEach(function (s) {
      s.points.forEach(function (p) { if (p[1] !== null) { any = true; if (p[1] > yMax) yMax = p[1]; } });
    });
    var xt = ticks(spec.xMax, 10, true);
    var yt = ticks(yMax, 5, false);
    var pw = W - ML - MR, ph = H - MT - MB;
    function x(v) { return Math.round((ML + (v / xt.top) * pw) * 10) / 10; }
    function y(v) { return Math.round((MT + ph - (v / yt.top) * ph) * 10) / 10; }

    var title = svg('text', { x: ML, y: 22, 'class': 'title' }, root);
    title.textContent = spec.title;

    spec.bands.forEach(function (b) {
      var r = svg('rect', { x: x(b[0]), y: MT, width: Math.max(0, x(b[1]) - x(b[0])), height: ph, 'class': 'blank' }, root);
      svg('title', {}, r).textContent = 'blank config, seconds ' + b[0] + ' to ' + b[1];
    });

    yt.values.forEach(function (v) {
      svg('line', { x1: ML, x2: W - MR, y1: y(v), y2: y(v), 'class': 'grid' }, root);
      svg('text', { x: ML - 8, y: y(v) + 4, 'text-anchor': 'end' }, root).textContent = fmt(v);
    });
    xt.values.forEach(function (v) {
      svg('line', { x1: x(v), x2: x(v), y1: MT + ph, y2: MT + ph + 5, 'class': 'axis' }, root);
      svg('text', { x: x(v), y: MT + ph + 18, 'text-anchor': 'middle' }, root).textContent = fmt(v);
    });
    svg('line', { x1: ML, x2: W - MR, y1: MT + ph, y2: MT + ph, 'class': 'axis' }, root);
    svg('line', { x1: ML, x2: ML, y1: MT, y2: MT + ph, 'class': 'axis' }, root);
    svg('text', { x: ML + pw / 2, y: H - 6, 'text-anchor': 'middle' }, root).textContent = 'seconds since the drill started';
    svg('text', { x: 14, y: MT + ph / 2, 'text-anchor': 'middle', transform: 'rotate(-90 14 ' + (MT + ph / 2) + ')' }, root).textContent = spec.yLabel;

    if (spec.limit) {
      svg('line', { x1: ML, x2: W - MR, y1: y(spec.limit.y), y2: y(spec.limit.y), stroke: '#cf222e', 'stroke-width': 1.5, 'stroke-dasharray': '6 4', 'class': 'limit' }, root);
      svg('text', { x: W - MR - 4, y: y(spec.limit.y) - 5, 'text-anchor': 'end' }, root).textContent = spec.limit.label;
    }

    spec.series.forEach(function (s) {
      var d = '', pen = false;
      s.points.forEach(function (p) {
        if (p[1] === null) { pen = false; return; }
        d += (pen ? 'L' : 'M') + x(p[0]) + ',' + y(p[1]);
        pen = true;
      });
      if (d === '') return;
      var attrs = { d: d, stroke: s.color, 'class': 'series', 'data-series': s.name };
      if (s.dash) attrs['stroke-dasharray'] = s.dash;
      svg('title', {}, svg('path', attrs, root)).textContent = s.name;
    });
    if (!any) svg('text', { x: ML + pw / 2, y: MT + ph / 2, 'text-anchor': 'middle' }, root).textContent = 'no samples';

    var legend = html('div', 'legend', figure);
    spec.series.forEach(function (s) {
      var item = html('span', 'item', legend);
      var swatch = html('span', 'swatch', item);
      swatch.style.borderTopColor = s.color;
      if (s.dash) swatch.style.borderTopStyle = 'dashed';
      html('span', '', item, s.name);
    });
    if (spec.limit) {
      var li = html('span', 'item', legend);
      var ls = html('span', 'swatch', li);
      ls.style.borderTopColor = '#cf222e';
      ls.style.borderTopStyle = 'dashed';
      html('span', '', li, spec.limit.label);
    }
    if (spec.bands.length > 0) {
      var bi = html('span', 'item', legend);
      html('span', 'swatch band', bi);
      html('span', '', bi, 'blank config');
    }
  }

  var body = document.body;
  try {
    var data = JSON.parse(document.getElementById('drill-data').textContent);
    var seconds = data.seconds;
    if (!Array.isArray(seconds)) throw new TypeError('summary.seconds is not an array');
    var lastT = 0;
    seconds.forEach(function (s) { var t = num(s.t); if (t !== null && t > lastT) lastT = t; });
    var xMax = Math.max(1, lastT, num(data.durationSeconds) || 0);
    var bands = [];
    seconds.forEach(function (s) {
      var t = num(s.t);
      if (s.phase !== 'blank' || t === null) return;
      var last = bands[bands.length - 1];
      if (last && last[1] === t - 1) last[1] = t;
      else bands.push([t - 1, t]);
    });
    function points(f) { return seconds.map(function (s) { return [num(s.t), f(s)]; }).filter(function (p) { return p[0] !== null; }); }
    var drawn = 0;

    var limit = num(data.bufferLimit);
    lineChart({
      id: 'chart-buffers',
      title: 'Buffers in Buftee',
      yLabel: 'buffers',
      xMax: xMax,
      bands: bands,
      limit: limit === null ? null : { y: limit, label: 'maxBuffers limit (' + fmt(limit) + ')' },
      series: [{ name: 'buffers', color: PALETTE[0], points: points(function (s) { return num(s.buffers); }) }],
    });
    drawn++;

    lineChart({
      id: 'chart-rates',
      title: 'Events per second: ingested, delivered, dropped',
      yLabel: 'events / s',
      xMax: xMax,
      bands: bands,
      limit: null,
      series: [
        { name: 'ingested / s', color: PALETTE[0], points: points(function (s) { return num(s.ingestedPerSec); }) },
        { name: 'delivered / s', color: PALETTE[2], points: points(function (s) { return num(s.deliveredPerSec); }) },
        { name: 'dropped / s (all reasons)', color: PALETTE[8], points: points(function (s) { return sum(s.droppedPerSec); }) },
      ],
    });
    drawn++;

    var stages = [];
    seconds.forEach(function (s) {
      [s.statsMs, s.lagMs].forEach(function (r) {
        if (r && typeof r === 'object') for (var k in r) if (stages.indexOf(k) < 0) stages.push(k);
      });
    });
    stages.sort(function (a, b) {
      var ia = STAGE_ORDER.indexOf(a), ib = STAGE_ORDER.indexOf(b);
      if (ia < 0) ia = STAGE_ORDER.length;
      if (ib < 0) ib = STAGE_ORDER.length;
      return ia !== ib ? ia - ib : a < b ? -1 : a > b ? 1 : 0;
    });
    var latency = [];
    stages.forEach(function (stage, i) {
      var color = PALETTE[i % PALETTE.length];
      var hasStats = seconds.some(function (s) { return s.statsMs && num(s.statsMs[stage]) !== null; });
      var hasLag = seconds.some(function (s) { return s.lagMs && num(s.lagMs[stage]) !== null; });
      if (hasStats) latency.push({ name: stage + ' stats()', color: color, points: points(function (s) { return s.statsMs ? num(s.statsMs[stage]) : null; }) });
      if (hasLag) latency.push({ name: stage + ' event-loop lag', color: color, dash: '5 4', points: points(function (s) { return s.lagMs ? num(s.lagMs[stage]) : null; }) });
    });
    lineChart({
      id: 'chart-latency',
      title: 'Latency: stats() per stage (solid), event-loop lag p99 (dashed)',
      yLabel: 'ms',
      xMax: xMax,
      bands: bands,
      limit: null,
      series: latency,
    });
    drawn++;

    body.dataset.charts = String(drawn);
  } catch (e) {
    var box = document.getElementById('report-error');
    var message = 'The charts could not be drawn: ' + (e && e.stack ? e.stack : String(e));
    if (box) box.textContent = message;
    else body.insertBefore(document.createTextNode(message), body.firstChild);
    body.dataset.charts = 'error';
  }
})();
`;
