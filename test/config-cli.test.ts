/**
 * `seatbelt validate` and `seatbelt run --config` as processes: the example config is valid; a bad
 * one is refused with the file and the path in the message and a non-zero exit; a real TCP client
 * and a real HTTP client deliver NDJSON that lands in the right objects; SIGHUP reloads the jobs
 * through the guard; SIGTERM under load drains and loses nothing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPipelineConfig, parsePipelineConfig, pipelineOptionsOf } from '../src/actors/pipeline-config.js';

const BIN = fileURLToPath(new URL('../bin/seatbelt.js', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../pipeline.yaml', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function job(id: string, zone: number, directory: string): Record<string, unknown> {
  return { id, dataset: 'http_requests', zones: [zone], output_options: { field_names: ['RayID', 'ZoneID', 'ClientRequestURI'] }, compression: 'none', max_upload_interval_seconds: 1, destination: { type: 'object-store', directory } };
}

/** Every line of every object under dir/<job>/, parsed. */
function objectLines(dir: string, jobId: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let entries: { name: string; parentPath: string; isFile(): boolean }[] = [];
  try {
    entries = readdirSync(join(dir, jobId), { recursive: true, withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!e.isFile() || !e.name.endsWith('.log')) continue;
    for (const line of readFileSync(join(e.parentPath, e.name), 'utf8').split('\n')) if (line) out.push(JSON.parse(line) as Record<string, unknown>);
  }
  return out;
}

function start(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  return { child, output: () => out, exited };
}

async function waitFor(output: () => string, pattern: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = output().match(pattern);
    if (m !== null) return m;
    if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${output().slice(-3000)}`);
    await sleep(50);
  }
}

describe('the pipeline config file', () => {
  it('the example config (what npm start runs) is valid, and relative directories are taken from its directory', () => {
    const result = run('validate', EXAMPLE);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('valid (4 jobs');
    const options = pipelineOptionsOf(loadPipelineConfig(EXAMPLE), EXAMPLE);
    const first = 'jobs' in options.config ? options.config.jobs[0] : undefined;
    expect(first?.destination).toEqual({ type: 'object-store', directory: join(EXAMPLE, '..', 'data') });
    expect(options.generator?.zones).toBe(40_000);
  });

  it('refuses a bad config naming the file, the path and what was expected; unknown keys too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seatbelt-cfg-'));
    try {
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, ['jobs:', '  - id: ok', '    dataset: http_requests', '    zones: [1]', '    output_options: { field_names: [RayID] }', '    destination: { type: object-store, directory: d }', 'sources:', '  tcp:', '    - { port: 70000 }', 'buftee: { limits: { maxBufers: 3 } }', ''].join('\n'));
      const validate = run('validate', file);
      expect(validate.status).toBe(1);
      expect(validate.stderr).toContain(`invalid pipeline config ${file}`);
      expect(validate.stderr).toContain('sources.tcp[0].port must be an integer from 0 to 65535');
      expect(validate.stderr).toContain('buftee.limits.maxBufers is not a known key of buftee.limits (did you mean "maxBuffers"?)');
      const started = run('run', '--config', file, '--duration', '1');
      expect(started.status).toBe(1);
      expect(started.stderr).toContain('sources.tcp[0].port');
      const missing = run('validate', join(dir, 'nope.yaml'));
      expect(missing.status).toBe(1);
      expect(missing.stderr).toContain('no such file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks jobs with Logpush\'s own schema, datasets against the list, and jobs xor jobsFrom', () => {
    const d = '/tmp/x';
    expect(() => parsePipelineConfig({ jobs: [{ ...job('a', 1, d), max_upload_records: 0 }] }, 'f.yaml')).toThrow(/f\.yaml: jobs\[0\]\.max_upload_records must be/);
    expect(() => parsePipelineConfig({ datasets: ['firewall_events'], jobs: [job('a', 1, d)] }, 'f.yaml')).toThrow(/jobs\[0\]\.dataset must be one of the datasets \(firewall_events\)/);
    expect(() => parsePipelineConfig({ jobs: [job('a', 1, d)], jobsFrom: { file: 'j.yaml' } }, 'f.yaml')).toThrow(/f\.yaml: the document must be a config with exactly one of jobs .* and jobsFrom/);
    expect(() => parsePipelineConfig({}, 'f.yaml')).toThrow(/f\.yaml: the document must be a config with exactly one of jobs/);
    expect(() => parsePipelineConfig({ jobs: [job('../etc', 1, d)] }, 'f.yaml')).toThrow(/jobs\[0\]\.id must be a job id/);
    const parsed = parsePipelineConfig({ jobsFrom: { url: 'https://example.test/jobs.yaml', intervalMs: 5000 } }, 'f.yaml');
    expect(pipelineOptionsOf(parsed, '/etc/seatbelt/f.yaml').config).toEqual({ url: 'https://example.test/jobs.yaml', intervalMs: 5000 });
    expect(parsed).toMatchObject({ policy: 'last-known-good', drainTimeoutMs: 60_000, maxJobs: 100_000, log: { level: 'info' } });
  });
});

describe('seatbelt run --config', () => {
  it('a real TCP client and a real HTTP client deliver NDJSON to the right objects; SIGHUP adds a job; SIGTERM drains and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seatbelt-run-cfg-'));
    const file = join(dir, 'pipeline.yaml');
    const write = (jobs: Record<string, unknown>[]) =>
      writeFileSync(file, JSON.stringify({ sources: { tcp: [{ port: 0, dataset: 'http_requests' }], http: { port: 0 } }, jobs, log: { level: 'warn' }, drainTimeoutMs: 20_000 }));
    write([job('tcp-job', 101, 'out'), job('http-job', 202, 'out')]);
    const { child, output, exited } = start(['run', '--config', file]);
    try {
      const tcpPort = Number((await waitFor(output, /NDJSON over TCP on 127\.0\.0\.1:(\d+)/))[1]);
      const httpPort = Number((await waitFor(output, /HTTP on http:\/\/127\.0\.0\.1:(\d+)\//))[1]);
      await waitFor(output, /Ctrl-C drains and stops/);
      const event = (zone: number, i: number) => JSON.stringify({ ZoneID: zone, RayID: `ray-${zone}-${i}`, ClientRequestURI: `/p/${i}`, EdgeStartTimestamp: Date.now() * 1e6 });
      // 300 events over a node socket: 200 for the TCP job's zone, 100 for a zone with no job.
      await new Promise<void>((resolveSent, reject) => {
        const socket = connect(tcpPort, '127.0.0.1', () => {
          const lines: string[] = [];
          for (let i = 0; i < 300; i++) lines.push(event(i < 200 ? 101 : 999, i));
          socket.end(`${lines.join('\n')}\n`, () => resolveSent());
        });
        socket.on('error', reject);
      });
      // 150 events in one HTTP POST for the HTTP job's zone.
      const body = Array.from({ length: 150 }, (_, i) => event(202, i)).join('\n');
      const response = await fetch(`http://127.0.0.1:${httpPort}/ingest/http_requests`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      expect(response.status).toBe(200);
      await response.text();
      const out = join(dir, 'out');
      const deadline = Date.now() + 20_000;
      while ((objectLines(out, 'tcp-job').length < 200 || objectLines(out, 'http-job').length < 150) && Date.now() < deadline) await sleep(100);
      const tcpLines = objectLines(out, 'tcp-job');
      expect(tcpLines).toHaveLength(200);
      expect(new Set(tcpLines.map((l) => l.RayID)).size).toBe(200);
      expect(tcpLines.every((l) => l.ZoneID === 101)).toBe(true);
      const httpLines = objectLines(out, 'http-job');
      expect(httpLines).toHaveLength(150);
      expect(httpLines.every((l) => l.ZoneID === 202 && Object.keys(l).sort().join() === 'ClientRequestURI,RayID,ZoneID')).toBe(true);

      // SIGHUP: the file now has a third job; it goes through the guard and applies.
      write([job('tcp-job', 101, 'out'), job('http-job', 202, 'out'), job('late-job', 999, 'out')]);
      child.kill('SIGHUP');
      await waitFor(output, /reloaded: accepted/);
      await new Promise<void>((resolveSent, reject) => {
        const socket = connect(tcpPort, '127.0.0.1', () => socket.end(`${Array.from({ length: 50 }, (_, i) => event(999, 1000 + i)).join('\n')}\n`, () => resolveSent()));
        socket.on('error', reject);
      });
      while (objectLines(out, 'late-job').length < 50 && Date.now() < deadline + 10_000) await sleep(100);
      expect(objectLines(out, 'late-job')).toHaveLength(50);

      // A bad file on SIGHUP is refused, and the running config stays.
      writeFileSync(file, '{"jobs": [{"id": "../x"}]}');
      child.kill('SIGHUP');
      await waitFor(output, /"alert":"config_refused".*SIGHUP: invalid pipeline config/);

      child.kill('SIGTERM');
      const code = await exited;
      expect({ code, out: output().slice(-2000) }).toMatchObject({ code: 0, out: expect.stringMatching(/lost by configured jobs 0, in flight 0, ledger balanced/) });
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SIGTERM under load (the generator as fast as the pipeline takes it): drains, loses nothing, exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seatbelt-term-'));
    const file = join(dir, 'pipeline.yaml');
    writeFileSync(
      file,
      JSON.stringify({ sources: { generator: { zones: 2000, seed: 3 } }, jobs: Array.from({ length: 40 }, (_, i) => job(`j${i}`, 1 + i * 50, 'out')), log: { level: 'warn' }, drainTimeoutMs: 30_000 }),
    );
    const { child, output, exited } = start(['run', '--config', file]);
    try {
      await waitFor(output, /\n\s+3s\s+in \d+\/s/);
      child.kill('SIGTERM');
      const code = await exited;
      const summary = output().match(/summary: .*/)?.[0] ?? output().slice(-2000);
      expect({ code, summary }).toMatchObject({ code: 0, summary: expect.stringMatching(/delivered [1-9]\d*.*lost by configured jobs 0, in flight 0, ledger balanced/) });
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
