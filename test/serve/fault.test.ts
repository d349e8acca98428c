/**
 * `lmsanitator serve` as a process: SIGKILL under load leaves an audit log
 * that parses line by line (at most one torn last line, holding every
 * flagged input whose response went out), and the restarted server cuts
 * the torn line, continues the file and answers; SIGTERM answers every
 * request already received and exits 0; --help lists the exit codes;
 * bad usage, a prompt that fails to load and a taken port are one line and
 * exit 2.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { GuardResult } from '../../src/guard/guard.js';
import { readAuditLog } from '../../src/serve/audit.js';
import { CLEAN, metric, serveFixture, tmpDir, TRIGGERED } from './helpers.js';

const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'lmsanitator.js');

interface Running {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `lmsanitator serve` on an ephemeral port and waits until it is ready. */
async function serve(args: string[]): Promise<Running> {
  const f = serveFixture();
  const child = spawn(process.execPath, [BIN, 'serve', f.modelDir, '--prompt', `sst2=${f.prompts.sst2}`, '--pvs', f.pvs, '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "ready" line in 30 s: ${err}`)), 30_000);
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString('utf8');
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m && /\bready: /.test(err)) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before it was ready: ${err}`));
    });
  });
  return { child, url, stderr: () => err, exited };
}

const post = (url: string, body: unknown) => fetch(`${url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const MIX = [CLEAN[0]!, TRIGGERED[0]!, CLEAN[1]!, TRIGGERED[1]!].map((text) => ({ text }));

test('fault: SIGKILL under load leaves an audit log that parses; the restart cuts a torn line, continues the file and answers', { timeout: 90_000 }, async (t) => {
  const audit = join(tmpDir('serve-fault'), 'audit.jsonl');
  const first = await serve(['--audit-log', audit, '--max-batch', '8', '--max-wait-ms', '1']);
  // Clients that keep posting the mix until the server dies; flagged answers are remembered by request id and input.
  const answered = new Set<string>();
  let ok = 0;
  let stop = false;
  const client = async () => {
    while (!stop) {
      try {
        const r = await post(first.url, { prompt: 'sst2', inputs: MIX });
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        const id = r.headers.get('x-request-id')!;
        const { results } = await r.json() as { results: GuardResult[] };
        results.forEach((x, i) => x.triggered && answered.add(`${id}#${i}`));
        ok++;
      } catch {
        return; // the kill
      }
    }
  };
  const clients = Array.from({ length: 16 }, client);
  const t0 = Date.now();
  while (ok < 40 && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
  assert.ok(ok >= 40, `the server answered ${ok} requests under load`);
  first.child.kill('SIGKILL');
  const { signal } = await first.exited;
  stop = true;
  await Promise.all(clients);
  assert.equal(signal, 'SIGKILL');

  const before = readAuditLog(readFileSync(audit, 'utf8'));
  const logged = new Set(before.records.map((r) => `${r.request_id}#${r.input}`));
  for (const k of answered) assert.ok(logged.has(k), `flagged input ${k} was answered, so it is in the audit log`);
  assert.ok(before.records.length >= answered.size);
  assert.ok(before.records.every((r) => r.prompt === 'sst2' && r.match_rate > 0.8 && (r.input === 1 || r.input === 3)), 'only the triggered inputs of the mix');
  // Whether or not the kill tore the last line, tear it now as a kill mid-write would.
  if (!before.torn) appendFileSync(audit, '{"time":"2026-01-01T00:00:00.000Z","request_id":"torn');
  const complete = before.records.length;
  t.diagnostic(`killed after ${ok} answers: ${complete} complete audit lines (${answered.size} flagged inputs answered), last line ${before.torn ? 'torn by the kill' : 'intact (torn by hand)'}`);

  const second = await serve(['--audit-log', audit]);
  try {
    const cut = readFileSync(audit, 'utf8');
    assert.ok(cut.endsWith('\n'), 'the torn last line is cut off on start');
    assert.equal(readAuditLog(cut).records.length, complete, 'and nothing else');
    const r = await post(second.url, { prompt: 'sst2', inputs: MIX });
    assert.equal(r.status, 200);
    const id = r.headers.get('x-request-id')!;
    const after = readAuditLog(readFileSync(audit, 'utf8'));
    assert.equal(after.torn, false);
    assert.equal(after.records.length, complete + 2, 'the file continues: the new flagged inputs appended');
    assert.deepEqual(after.records.slice(-2).map((x) => [x.request_id, x.input]), [[id, 1], [id, 3]]);
  } finally {
    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0);
  }
});

test('fault: SIGTERM answers every request already received, then exits 0 with no new connection accepted', { timeout: 60_000 }, async () => {
  const s = await serve(['--max-batch', '32', '--max-wait-ms', '1500']);
  const sent = Array.from({ length: 10 }, (_, i) => post(s.url, { prompt: 'sst2', inputs: [MIX[i % MIX.length]!] }));
  // All ten queued (the long max wait keeps them there), then the signal.
  const t0 = Date.now();
  for (;;) {
    const m = await (await fetch(`${s.url}/metrics`)).text();
    if (metric(m, 'lmsanitator_queue_rows') === 10) break;
    assert.ok(Date.now() - t0 < 10_000, 'the ten requests reached the queue');
    await new Promise((r) => setTimeout(r, 10));
  }
  s.child.kill('SIGTERM');
  const answers = await Promise.all(sent);
  for (const r of answers) {
    assert.equal(r.status, 200);
    const { results } = await r.json() as { results: GuardResult[] };
    assert.equal(results.length, 1);
  }
  const { code } = await s.exited;
  assert.equal(code, 0, s.stderr());
  assert.match(s.stderr(), /SIGTERM: not accepting new connections; finishing 10 request\(s\) in flight/);
  assert.match(s.stderr(), /stopped\n$/);
  assert.ok(!/\n\s+at |Error:/.test(s.stderr()), `no stack trace on stderr: ${s.stderr()}`);
  await assert.rejects(fetch(`${s.url}/healthz`));
});

test('serve CLI: --help lists the exit codes and defaults; bad usage, a failed load and a taken port are one line, exit 2', { timeout: 60_000 }, async () => {
  const f = serveFixture();
  const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  const help = cli('serve', '--help');
  assert.equal(help.status, 0);
  const h = help.stdout.replace(/\s+/g, ' ');
  assert.match(help.stdout, /Exit codes:\n\s+0\s+done\n\s+2\s+error: bad usage or input \(one line on stderr\)\n\s+130\s+/);
  for (const re of [/--host <host> .*\(default: "127\.0\.0\.1"\)/, /--port <n> .*\(default: 8080\)/, /--max-batch <n> .*\(default: 32\)/, /--max-wait-ms <ms> .*\(default: 5\)/, /--threshold <x> .*\(default: 0\.8\)/, /--max-window <n> .*\(default: 3\)/, /--audit-log <file>/]) {
    assert.match(h, re);
  }

  const base = ['serve', f.modelDir, '--prompt', f.prompts.sst2, '--pvs', f.pvs];
  for (const [args, re] of [
    [['serve', f.modelDir, '--pvs', f.pvs], /^lmsanitator serve: required option '--prompt <prompt-dir>' not specified/],
    [[...base, '--port', '70000'], /option '--port <n>' argument '70000' is invalid\. Expected a port number, 0 to 65535/],
    [[...base, '--max-batch', '0'], /option '--max-batch <n>' argument '0' is invalid\. Expected an integer ≥ 1\./],
    [[...base, '--max-wait-ms', '-1'], /option '--max-wait-ms <ms>' argument '-1' is invalid/],
    [['serve', f.modelDir, '--prompt', f.prompts.sst2, '--prompt', `other/${f.prompts.sst2}`, '--pvs', f.pvs], /^lmsanitator: two prompts are named "sst2"; name them apart with --prompt NAME=DIR$/],
  ] as [string[], RegExp][]) {
    const r = cli(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), re);
  }

  // A prompt that fails to load: the listening line, then the one error line.
  const missing = join(f.root, 'no-such-prompt');
  const bad = cli('serve', f.modelDir, '--prompt', missing, '--pvs', f.pvs, '--port', '0');
  assert.equal(bad.status, 2, bad.stderr);
  const lines = bad.stderr.trim().split('\n');
  assert.match(lines[0]!, /^lmsanitator serve: listening on http:\/\/127\.0\.0\.1:\d+ /, 'loopback by default');
  assert.match(lines.at(-1)!, /^lmsanitator: prompt "no-such-prompt" \(.*no-such-prompt\): /);
  assert.ok(!/\n\s+at /.test(bad.stderr), bad.stderr);

  // A taken port.
  const s = await serve([]);
  try {
    const port = new URL(s.url).port;
    const taken = cli(...base, '--port', port);
    assert.equal(taken.status, 2, taken.stderr);
    assert.equal(taken.stderr.trim().split('\n').length, 1, taken.stderr);
    assert.match(taken.stderr, new RegExp(`^lmsanitator: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
  } finally {
    s.child.kill('SIGINT');
    assert.equal((await s.exited).code, 0);
  }
  assert.ok(existsSync(f.pvs));
});
