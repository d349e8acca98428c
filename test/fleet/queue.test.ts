/**
 * The fleet end to end on a redis-server of the test's own: two worker
 * processes of the real CLI, submit, status and results. Verdicts and
 * scores must equal a serial scan's; the same weights under two paths are
 * scanned once; bad jobs fail with their one-line error while the worker
 * carries on.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, truncateSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { scan } from '../../src/eval/scan-model.js';
import { modelHash } from '../../src/formats/checkpoint.js';
import { fleetModels, killAll, noRedis, runCli, scanArgs, sharedRedis, spawnCli, tmpDir, uniqueQueue, waitFor } from './helpers.js';

const skip = noRedis();
const LOOPS = 4;
let redis: Awaited<ReturnType<typeof sharedRedis>>;

before(async () => {
  if (!skip) redis = await sharedRedis();
});
after(async () => {
  killAll();
  if (!skip) await redis.stop();
});

interface Line { model: string; sha256: string | null; verdict: string; score: number | null; worker: string | null; attempts: number; error?: string }

function results(workDir: string, env: Record<string, string>): Line[] {
  const r = runCli(['fleet', 'results', '--json', '--work-dir', workDir], env);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Line[];
}

test('two workers scan the submitted models; verdicts equal a serial scan\'s; one scan per set of weights; results --json keeps its contract', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const m = fleetModels();
  const workDir = tmpDir('fleet-e2e');
  const env = { LMS_CACHE: tmpDir('fleet-cache') };
  // The same weights under another path: a duplicate, scanned once.
  const copy = join(tmpDir('fleet-copy'), 'same-weights');
  cpSync(m.dirs[0]!, copy, { recursive: true });
  const queue = ['--redis', redis.url, '--queue', uniqueQueue('e2e'), '--work-dir', workDir];
  const workers = ['w1', 'w2'].map((name) => spawnCli(['fleet', 'worker', ...queue, '--name', name, '--lock-ms', '5000'], env));

  const sub = runCli(['fleet', 'submit', ...m.dirs, copy, ...queue, ...scanArgs(m, LOOPS), '--json'], env);
  assert.equal(sub.status, 0, sub.stderr);
  const submitted = JSON.parse(sub.stdout) as { model: string; status: string; sha256: string; job: string }[];
  assert.deepEqual(submitted.map((s) => s.status), ['queued', 'queued', 'queued', 'duplicate']);
  assert.equal(submitted[3]!.sha256, submitted[0]!.sha256);
  assert.equal(submitted[0]!.sha256, modelHash(m.dirs[0]!), 'jobs are keyed by the weights\' sha256');

  const lines = await waitFor('four result lines', () => {
    const r = results(workDir, env);
    return r.length === 4 ? r : null;
  }, 90_000, 250);

  // The contract: exactly these keys, "error" only on errors.
  for (const l of lines) {
    assert.deepEqual(Object.keys(l).sort(), ['attempts', 'model', 'score', 'sha256', 'verdict', 'worker']);
    assert.match(l.sha256!, /^[0-9a-f]{64}$/);
    assert.ok(['w1', 'w2'].includes(l.worker!), `worker ${l.worker}`);
    assert.equal(l.attempts, 1);
    assert.equal(typeof l.score, 'number');
  }
  assert.deepEqual(lines.map((l) => l.model), [...m.dirs, copy]);
  // One scan directory per distinct set of weights.
  const scanned = readdirSync(workDir).filter((d) => /^[0-9a-f]{64}$/.test(d));
  assert.equal(scanned.length, 3);

  // The serial scan with the same settings gives the same verdicts and scores.
  for (const [i, dir] of m.dirs.entries()) {
    const serial = scan(dir, { outDir: join(tmpDir('fleet-serial'), String(i)), loops: LOOPS, sentencesFile: m.sentences, sentenceCount: 64, batchSize: 16, epochs: 2, cacheDir: null });
    assert.equal(lines[i]!.verdict, serial.verdict, `${dir}: verdict`);
    assert.ok(Math.abs(lines[i]!.score! - serial.driver.score) < 1e-9, `${dir}: score ${lines[i]!.score} vs serial ${serial.driver.score}`);
    const journal = readFileSync(join(workDir, lines[i]!.sha256!, 'cls', 'journal.jsonl'), 'utf8');
    assert.equal(journal.split('\n').filter((l) => l.includes('"type":"loop"')).length, LOOPS);
    assert.ok(existsSync(join(workDir, lines[i]!.sha256!, 'cls', 'report.html')));
  }
  assert.deepEqual(lines[3]!, { ...lines[0]!, model: copy }, 'the duplicate path shares the first one\'s result');

  // Submitting again: known, nothing queued.
  const again = runCli(['fleet', 'submit', m.dirs[1]!, ...queue, ...scanArgs(m, LOOPS), '--json'], env);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual((JSON.parse(again.stdout) as { status: string }[]).map((s) => s.status), ['known']);

  const st = runCli(['fleet', 'status', '--json', ...queue], env);
  assert.equal(st.status, 0, st.stderr);
  const status = JSON.parse(st.stdout);
  assert.equal(status.queue.counts.completed, 3);
  assert.equal(status.queue.counts.failed, 0);
  assert.deepEqual([...status.queue.workers].sort(), ['w1', 'w2']);
  assert.equal(status.db.jobs.done, 3);

  for (const w of workers) w.child.kill('SIGTERM');
  for (const w of workers) assert.equal(await w.exited, 0, w.log());
});

test('bad input — a missing directory, a malformed model, a model the scan rejects, a malformed job — fails that job with its one-line error; the worker goes on', { skip: skip ?? false, timeout: 90_000 }, async () => {
  const m = fleetModels();
  const workDir = tmpDir('fleet-bad');
  const env = { LMS_CACHE: tmpDir('fleet-cache') };
  const root = tmpDir('fleet-bad-models');
  const missing = join(root, 'does-not-exist');
  const truncated = join(root, 'truncated');
  cpSync(m.dirs[1]!, truncated, { recursive: true });
  truncateSync(join(truncated, 'model.safetensors'), Math.floor(statSync(join(truncated, 'model.safetensors')).size / 2));
  const gpt2 = join(root, 'gpt2');
  cpSync(m.dirs[2]!, gpt2, { recursive: true });
  const config = JSON.parse(readFileSync(join(gpt2, 'config.json'), 'utf8'));
  writeFileSync(join(gpt2, 'config.json'), JSON.stringify({ ...config, model_type: 'gpt2' }));
  const notModel = join(root, 'empty');
  mkdirSync(notModel);

  const name = uniqueQueue('bad');
  const queue = ['--redis', redis.url, '--queue', name, '--work-dir', workDir];
  const worker = spawnCli(['fleet', 'worker', ...queue, '--name', 'w', '--lock-ms', '5000'], env);
  // Anyone who can write to Redis can queue anything: a job with a relative path and a bad loop count.
  const conn = redis.client();
  const raw = new Queue(name, { connection: conn });
  await raw.add('scan', { v: 1, model: 'relative/path', sha256: null, modes: ['cls'], loops: -3, scan: {} }, { jobId: 'forged', attempts: 3 });
  const sub = runCli(['fleet', 'submit', missing, truncated, gpt2, notModel, m.dirs[0]!, ...queue, ...scanArgs(m, 2)], env);
  assert.equal(sub.status, 0, sub.stderr);

  const lines = await waitFor('five result lines', () => {
    const r = results(workDir, env);
    return r.length === 5 ? r : null;
  }, 60_000, 250);
  const by = new Map(lines.map((l) => [l.model, l]));
  const expect: [string, RegExp][] = [
    [missing, /does-not-exist: no such model directory$/],
    [truncated, /model\.safetensors/],
    [gpt2, /unsupported model_type "gpt2"/],
    [notModel, /config\.json/],
  ];
  for (const [dir, re] of expect) {
    const l = by.get(dir)!;
    assert.ok(l, `${dir} has a result`);
    assert.equal(l.verdict, 'error');
    assert.match(l.error!, re);
    assert.ok(!l.error!.includes('\n'), 'one line');
    assert.equal(l.attempts, 1, `${dir}: no retry can fix bad input`);
    assert.deepEqual(Object.keys(l).sort(), ['attempts', 'error', 'model', 'score', 'sha256', 'verdict', 'worker']);
  }
  assert.equal(by.get(m.dirs[0]!)!.verdict, 'clean', 'the good model after the bad ones is scanned');
  const forged = await waitFor('the forged job to fail', async () => {
    const j = await raw.getJob('forged');
    return (await j?.getState()) === 'failed' ? j : null;
  }, 30_000, 200);
  await raw.close();
  conn.disconnect();
  assert.match(forged.failedReason, /^malformed job: model must be an absolute path$/);
  assert.equal(forged.attemptsMade, 1, 'an unrecoverable error is not retried');
  assert.equal(worker.child.exitCode, null, 'the worker is still running');
  worker.child.kill('SIGTERM');
  assert.equal(await worker.exited, 0, worker.log());
});

test('usage errors are one line with exit 2: no --redis or --local, a bad URL, both, a worker without --redis, an unreachable Redis', () => {
  const m = fleetModels();
  const workDir = ['--work-dir', tmpDir('fleet-usage')];
  const cases: [string[], RegExp][] = [
    [['fleet', 'submit', m.dirs[0]!, ...workDir], /^lmsanitator fleet submit: give --redis URL \(queue the jobs for workers\) or --local/],
    [['fleet', 'submit', m.dirs[0]!, '--redis', 'http://localhost:6379', ...workDir], /is not a redis:\/\/ or rediss:\/\/ URL/],
    [['fleet', 'submit', m.dirs[0]!, '--redis', 'redis://127.0.0.1:1', '--local', ...workDir], /cannot be used with/],
    [['fleet', 'worker', ...workDir], /required option '--redis <url>' not specified/],
    [['fleet', 'submit', m.dirs[0]!, '--mode', 'cls,bogus', '--redis', 'redis://127.0.0.1:1', ...workDir], /Not allowed: bogus/],
    [['fleet', 'submit', m.dirs[0]!, '--priority', '0', '--redis', 'redis://127.0.0.1:1', ...workDir], /Expected an integer from 1 to 2097152/],
    [['fleet', 'submit', m.dirs[0]!, '--redis', 'redis://127.0.0.1:1', ...workDir], /^lmsanitator: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: /],
  ];
  for (const [args, re] of cases) {
    const r = runCli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line, got ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});
