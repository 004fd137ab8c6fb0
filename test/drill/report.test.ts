/**
 * The drill's HTML report: self-contained (no URL but the SVG namespace, a CSP that allows no
 * network), every string escaped (a `</script><img>` in the data stays text), and its inline
 * script really draws the three charts: each report is opened in headless Chromium and the DOM
 * it leaves is inspected (`data-charts="3"`, three SVGs with their series paths, no error).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReport, REPORT_CSP } from '../../src/drill/report.js';
import type { DrillPhase, DrillSecond, DrillSummary } from '../../src/drill/types.js';

const INJECTION = '</script><img src=x>';
const SVG_NS = 'http://www.w3.org/2000/svg';
const STAGES = ['source', 'logfwdr', 'logreceiver', 'buftee', 'logpush'] as const;
const CHROMIUM_TIMEOUT_MS = 60_000;

const dir = mkdtempSync(join(tmpdir(), 'seatbelt-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 40 seconds: 10 steady, 10 of blank config (buffers rise to the limit, Logfwdr sheds), 20 after. */
function failOpenSummary(): DrillSummary {
  const seconds: DrillSecond[] = [];
  let configuredIngested = 0;
  let configuredDelivered = 0;
  let buffers = 0;
  for (let t = 1; t <= 40; t++) {
    const phase: DrillPhase = t <= 10 ? 'steady' : t <= 20 ? 'blank' : 'after';
    if (phase === 'blank') buffers = Math.min(100_000, buffers + 14_000);
    else if (phase === 'after') buffers = Math.max(120, Math.round(buffers * 0.55));
    else buffers = 120 + (t % 3) * 10;
    const droppedPerSec: Record<string, number> = {};
    if (phase === 'steady' || phase === 'after') droppedPerSec.unconfigured = 19_000;
    if (phase === 'blank') {
      droppedPerSec.shed = 4_000 + 200 * (t - 10);
      if (t >= 18) droppedPerSec.buffer_limit = 300;
    }
    configuredIngested += 500;
    configuredDelivered += phase === 'blank' ? 480 : 500;
    const slow = phase === 'blank' ? 1 + (t - 10) * 4 : 1;
    seconds.push({
      t,
      phase,
      buffers,
      bufferBytes: buffers * 65_536,
      pressure: buffers > 80_000 ? 'hard' : buffers > 50_000 ? 'soft' : 'ok',
      mode: phase === 'blank' ? 'fail-open+fallback' : 'configured',
      ingestedPerSec: 20_000,
      deliveredPerSec: phase === 'blank' ? 14_000 : phase === 'after' && t < 25 ? 26_000 : 1_000,
      droppedPerSec,
      configuredIngested,
      configuredDelivered,
      configuredLost: 0,
      lagMs: { ...Object.fromEntries(STAGES.map((s, i) => [s, 2 + i + slow])), main: 3.5 },
      // A stage that did not answer one second is missing from statsMs (a gap in its line).
      statsMs: Object.fromEntries(STAGES.filter((s) => !(s === 'buftee' && t === 19)).map((s, i) => [s, 0.4 + i * 0.1 + slow])),
      rssMb: 180 + Math.round(buffers / 1000),
      restarts: 0,
    });
  }
  return {
    drill: 'fail-open',
    unbuckled: false,
    zones: 40_000,
    jobs: 1_000,
    blankSeconds: 10,
    durationSeconds: 40,
    configuredIngested,
    configuredDelivered,
    configuredLost: 0,
    maxBuffers: 100_000,
    bufferLimit: 100_000,
    recoverySeconds: 6,
    restarts: 0,
    statsP99Ms: 38.2,
    peakRssMb: 281,
    droppedByReason: { unconfigured: 570_000, shed: 95_000, buffer_limit: 900 },
    configuredDroppedByReason: {},
    ledgerBalanced: true,
    stoppedBy: null,
    alerts: { fail_open: 1, [INJECTION]: 2 },
    seconds,
  };
}

/** An unbuckled run stopped by its safety cap before its first sample: no seconds, every nullable field null. */
function emptySummary(): DrillSummary {
  return {
    ...failOpenSummary(),
    unbuckled: true,
    configuredIngested: 0,
    configuredDelivered: 0,
    maxBuffers: 0,
    bufferLimit: null,
    recoverySeconds: null,
    droppedByReason: {},
    stoppedBy: `safety cap ${INJECTION}`,
    alerts: {},
    seconds: [],
  };
}

function write(name: string, summary: DrillSummary): { html: string; url: string } {
  const html = renderReport(summary);
  const file = join(dir, name);
  writeFileSync(file, html);
  return { html, url: pathToFileURL(file).href };
}

let chromiumPath: string | undefined;
function chromium(): string {
  if (chromiumPath !== undefined) return chromiumPath;
  for (const name of ['chromium', 'chromium-browser']) {
    for (const d of (process.env.PATH ?? '').split(delimiter)) {
      if (d === '') continue;
      try {
        accessSync(join(d, name), constants.X_OK);
        return (chromiumPath = join(d, name));
      } catch {
        // not here
      }
    }
  }
  throw new Error(
    'no headless browser: neither `chromium` nor `chromium-browser` is on PATH. The report test opens the report in headless ' +
      "Chromium; .ci/run installs Debian's `chromium` (locally: apt-get install -y --no-install-recommends chromium).",
  );
}

/** Opens `url` in headless Chromium and returns the DOM it leaves after the page has loaded. */
function dumpDom(url: string): Promise<string> {
  const profile = mkdtempSync(join(dir, 'profile-'));
  const args = ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check', `--user-data-dir=${profile}`, '--dump-dom', url];
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout kills the browser with its renderer and zygote.
    const child = spawn(chromium(), args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      reject(new Error(`chromium --dump-dom did not finish in ${CHROMIUM_TIMEOUT_MS} ms\nstderr:\n${stderr}`));
    }, CHROMIUM_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && stdout.includes('</html>')) resolve(stdout);
      else reject(new Error(`chromium --dump-dom exited with ${code ?? signal}\nstdout:\n${stdout.slice(0, 2000)}\nstderr:\n${stderr}`));
    });
  });
}

function svgs(dom: string): string[] {
  return [...dom.matchAll(/<svg\b[\s\S]*?<\/svg>/g)].map((m) => m[0]);
}

function errorText(dom: string): string {
  const m = /<div id="report-error"[^>]*>([\s\S]*?)<\/div>/.exec(dom);
  expect(m, 'the #report-error element is in the page').not.toBeNull();
  return m![1]!;
}

/** The DOM with attribute values emptied: what is left of `<img` there would be an element. */
function markup(dom: string): string {
  return dom.replace(/="[^"]*"/g, '=""');
}

function bodyTag(dom: string): string {
  return /<body\b[^>]*>/.exec(dom)?.[0] ?? '';
}

describe('drill report: the HTML itself', () => {
  it('is self-contained: a CSP that allows no network, no URL but the SVG namespace, nothing loaded from elsewhere', () => {
    const { html } = write('static.html', failOpenSummary());
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">`);
    expect(REPORT_CSP).toBe("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:");
    const urls = html.match(/\b(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'<>)]*/gi) ?? [];
    expect(urls).toEqual([SVG_NS]);
    // The namespace is only in the inline script (elements made with createElementNS).
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
    expect(script).toContain(SVG_NS);
    // No element loads anything: no src, an href only as a data: URL, no CSS url() or @import.
    expect(html).not.toMatch(/<[a-z][^>]*\ssrc\s*=/i);
    expect([...html.matchAll(/<[a-z][^>]*\shref\s*=\s*"([^"]*)"/gi)].map((m) => m[1])).toEqual(['data:,']);
    expect(html).not.toMatch(/url\(|@import/i);
  });

  it('escapes every string: a </script><img> in an alert name or stoppedBy stays text, and the embedded JSON round-trips', () => {
    for (const summary of [failOpenSummary(), emptySummary()]) {
      const { html } = write('escape.html', summary);
      expect(html).not.toContain(INJECTION);
      expect(html).not.toMatch(/<img/i);
      // Exactly two script elements end: the JSON and the inline script.
      expect(html.match(/<\/script/gi)).toHaveLength(2);
      // In the table, HTML-escaped.
      expect(html).toContain('&lt;/script&gt;&lt;img src=x&gt;');
      // In the JSON, with < and > as \u escapes, and JSON.parse gives back the summary.
      const json = /<script type="application\/json" id="drill-data">([\s\S]*?)<\/script>/.exec(html)?.[1];
      expect(json).toBeDefined();
      expect(json).toContain('\\u003c/script\\u003e\\u003cimg src=x\\u003e');
      expect(JSON.parse(json!)).toEqual(summary);
    }
  });

  it('has the summary table and the title (buckled / unbuckled), with null fields shown as such', () => {
    const buckled = write('table.html', failOpenSummary()).html;
    expect(buckled).toContain('<title>Seatbelt drill fail-open (buckled)</title>');
    expect(buckled).toContain('<h1>Seatbelt drill fail-open (buckled)</h1>');
    expect(buckled).toMatch(/Most buffers in Buftee \/ limit<\/th><td class="good">100,000 \/ 100,000</);
    expect(buckled).toMatch(/Recovery after the revert<\/th><td>6 s</);
    expect(buckled).toContain('unconfigured 570,000, shed 95,000, buffer_limit 900');
    expect(buckled).toContain('fail_open 1, &lt;/script&gt;&lt;img src=x&gt; 2');
    expect(buckled).toMatch(/Ledger<\/th><td class="good">balanced</);
    for (const id of ['chart-buffers', 'chart-rates', 'chart-latency']) expect(buckled).toContain(`<figure class="chart" id="${id}"></figure>`);

    const empty = write('table-empty.html', emptySummary()).html;
    expect(empty).toContain('<title>Seatbelt drill fail-open (unbuckled)</title>');
    expect(empty).toMatch(/Most buffers in Buftee \/ limit<\/th><td class="warn">0 \/ OFF</);
    expect(empty).toMatch(/Recovery after the revert<\/th><td class="warn">n\/a/);
    expect(empty).toMatch(/Stopped by<\/th><td class="warn">safety cap &lt;\/script&gt;&lt;img src=x&gt;</);
    expect(empty).toMatch(/Alerts<\/th><td>none</);
  });
});

describe('drill report: the charts, drawn in headless Chromium', () => {
  it('draws all three charts: buffers with the limit and the blank seconds, rates, latency', async () => {
    const summary = failOpenSummary();
    const dom = await dumpDom(write('report.html', summary).url);
    expect(errorText(dom)).toBe('');
    expect(bodyTag(dom)).toContain('data-charts="3"');
    expect(markup(dom)).not.toMatch(/<img/i);
    expect(dom).toContain('Seatbelt drill fail-open (buckled)');

    const charts = svgs(dom);
    expect(charts).toHaveLength(3);
    for (const chart of charts) {
      expect(chart).toMatch(/<path\b|<polyline\b/);
      expect(chart).toMatch(/<text[^>]*class="title"/);
      // Tick labels on both axes: 0 at least twice (x and y), and the x axis reaching 40 s.
      expect(chart.match(/<text[^>]*>0<\/text>/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
      expect(chart).toMatch(/<text[^>]*>40<\/text>/);
      // The blank seconds 10..20 shaded (one band).
      expect(chart.match(/<rect[^>]*class="blank"/g)).toHaveLength(1);
    }
    const [buffers, rates, latency] = charts as [string, string, string];

    // Buffers: one point per second, and the limit as a dashed line.
    const d = /<path[^>]*\sd="([^"]+)"[^>]*data-series="buffers"/.exec(buffers)?.[1] ?? /<path[^>]*data-series="buffers"[^>]*\sd="([^"]+)"/.exec(buffers)?.[1];
    expect(d).toBeDefined();
    expect(d!.match(/[ML]/g)).toHaveLength(40);
    expect(buffers).toMatch(/<line[^>]*stroke-dasharray[^>]*class="limit"/);
    expect(buffers).toContain('maxBuffers limit (100k)');
    expect(buffers).toContain('100k</text>');

    for (const name of ['ingested / s', 'delivered / s', 'dropped / s (all reasons)']) expect(rates).toContain(`data-series="${name}"`);

    // Latency: stats() and lag per stage; buftee's stats() missing at t=19 breaks its line in two.
    for (const stage of STAGES) {
      expect(latency).toContain(`data-series="${stage} stats()"`);
      expect(latency).toContain(`data-series="${stage} event-loop lag"`);
    }
    expect(latency).toContain('data-series="main event-loop lag"');
    expect(latency).not.toContain('data-series="main stats()"');
    const buftee = /<path[^>]*\sd="([^"]+)"[^>]*data-series="buftee stats\(\)"/.exec(latency)?.[1];
    expect(buftee?.match(/M/g)).toHaveLength(2);
    expect(buftee?.match(/[ML]/g)).toHaveLength(39);

    // Legends, as HTML after each chart.
    expect(dom.match(/<div class="legend">/g)).toHaveLength(3);
    expect(dom).toContain('blank config</span>');
  });

  it('draws empty axes for a summary with no seconds and null recoverySeconds / bufferLimit / stoppedBy', async () => {
    const summary: DrillSummary = { ...emptySummary(), stoppedBy: null };
    const dom = await dumpDom(write('empty.html', summary).url);
    expect(errorText(dom)).toBe('');
    expect(bodyTag(dom)).toContain('data-charts="3"');
    const charts = svgs(dom);
    expect(charts).toHaveLength(3);
    for (const chart of charts) {
      expect(chart).toContain('no samples</text>');
      expect(chart).not.toMatch(/<path\b/);
      expect(chart).not.toMatch(/class="limit"/);
      expect(chart).toMatch(/<line[^>]*class="axis"/);
    }
    expect(dom).toContain('Seatbelt drill fail-open (unbuckled)');
  });

  it('keeps names from the data as text in the browser too (a hostile stage name in the legend)', async () => {
    const base = failOpenSummary();
    const hostile = '<img src=x onerror="document.body.dataset.pwned=1">';
    const summary: DrillSummary = {
      ...emptySummary(),
      seconds: base.seconds.slice(0, 6).map((s) => ({ ...s, lagMs: { ...s.lagMs, [hostile]: 9 } })),
    };
    const dom = await dumpDom(write('hostile.html', summary).url);
    expect(errorText(dom)).toBe('');
    expect(bodyTag(dom)).toContain('data-charts="3"');
    expect(bodyTag(dom)).not.toContain('pwned');
    expect(markup(dom)).not.toMatch(/<img/i);
    expect(dom).toContain('&lt;img src=x onerror="document.body.dataset.pwned=1"&gt; event-loop lag</span>');
  });

  it('reports an error in the page (data-charts="error") when the charts cannot be drawn', async () => {
    const summary = { ...failOpenSummary(), seconds: null } as unknown as DrillSummary;
    const dom = await dumpDom(write('broken.html', summary).url);
    expect(bodyTag(dom)).toContain('data-charts="error"');
    expect(errorText(dom)).toContain('summary.seconds is not an array');
  });
});
