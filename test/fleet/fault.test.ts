/**
 * Faults: a worker SIGKILLed mid-scan (its job finishes on the other
 * worker, resumed from the journal: every loop once, none lost), a worker
 * stopped with SIGTERM mid-scan (its job goes back at once), and Redis
 * killed and restarted while jobs run (no job lost).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { scan } from '../../src/eval/scan-model.js';
import { modelHash } from '../../src/formats/checkpoint.js';
import { Store } from '../../src/fleet/store.js';
import { LOCK_FILE } from '../../src/util/dir-lock.js';
import { buildMicroModel } from '../attacks/helpers.js';
import { killAll, noRedis, type Proc, runCli, spawnCli, startRedis, type TestRedis, tmpDir, waitFor } from './helpers.js';

const skip = noRedis();
after(killAll);

/** Models whose loops take a few hundred ms each on 2 cores, so a kill lands mid-scan. */
function slowModels(n: number): { dirs: string[]; sentences: string } {
  const built = Array.from({ length: n }, (_, i) => buildMicroModel({ hidden: 64, seed: 5 + i, sentences: 600 }));
  const sentences = join(tmpDir('fleet-slow-sentences'), 's.txt');
  writeFileSync(sentences, built[0]!.sentences.join('\n') + '\n');
  return { dirs: built.map((b) => b.dir), sentences };
}

const settings = (sentences: string, loops: number) => ['--loops', String(loops), '--sentences', sentences, '--count', '600', '--batch', '16', '--epochs', '4'];
const serialScan = (dir: string, sentences: string, loops: number) =>
  scan(dir, { outDir: join(tmpDir('fleet-serial'), 'out'), loops, sentencesFile: sentences, sentenceCount: 600, batchSize: 16, epochs: 4, cacheDir: null });

function journalLoops(file: string): number[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"type":"loop"')).flatMap((l) => {
    try {
      return [(JSON.parse(l) as { seed: number }).seed];
    } catch {
      return []; // torn by the kill
    }
  });
}

async function started(w: Proc, model: string): Promise<void> {
  await waitFor(`${model} to start`, () => w.log().includes(`started ${model}`), 30_000, 20);
}

interface Detail { modes: { resumed_from: number; loops_run: number; loops: number }[] }

async function jobRow(workDir: string, sha: string) {
  const store = await Store.open({ workDir });
  try {
    return await store.job(sha);
  } finally {
    await store.close();
  }
}

async function withRedis<T>(appendonly: boolean, fn: (r: TestRedis) => Promise<T>): Promise<T> {
  const r = await startRedis({ appendonly });
  try {
    return await fn(r);
  } finally {
    await r.stop('SIGKILL');
  }
}

test('a worker SIGKILLed mid-scan: the other worker finishes the job, resumed from the journal; no loop lost, none run twice but the one in flight', { skip: skip ?? false, timeout: 120_000 }, async () => {
  await withRedis(false, async (redis) => {
    const LOOPS = 24;
    const { dirs: [model], sentences } = slowModels(1);
    const workDir = tmpDir('fleet-kill');
    const env = { LMS_CACHE: tmpDir('fleet-cache') };
    const queue = ['--redis', redis.url, '--queue', 'kill', '--work-dir', workDir, '--lock-ms', '2000'];
    const a = spawnCli(['fleet', 'worker', ...queue, '--name', 'A'], env);
    await waitFor('worker A', () => a.log().includes('worker A on queue'), 30_000, 20);
    const sub = runCli(['fleet', 'submit', model!, ...queue.slice(0, 6), ...settings(sentences, LOOPS)], env);
    assert.equal(sub.status, 0, sub.stderr);
    await started(a, model!);
    const b = spawnCli(['fleet', 'worker', ...queue, '--name', 'B'], env);
    await waitFor('worker B', () => b.log().includes('worker B on queue'), 30_000, 20);

    const sha = modelHash(model!);
    const outDir = join(workDir, sha, 'cls');
    const journal = join(outDir, 'journal.jsonl');
    await waitFor('two journaled loops', () => journalLoops(journal).length >= 2, 60_000, 10);
    a.child.kill('SIGKILL');
    await a.exited;
    const atKill = journalLoops(journal).length;
    const killedText = readFileSync(journal, 'utf8');
    const durable = killedText.slice(0, killedText.lastIndexOf('\n') + 1);
    assert.ok(atKill < LOOPS, `the kill must land mid-scan (${atKill} of ${LOOPS} loops journaled)`);
    assert.ok(existsSync(join(outDir, LOCK_FILE)), 'the killed worker left its scan-directory lock behind');
    assert.equal(readFileSync(join(outDir, LOCK_FILE), 'utf8').split(' ')[0], String(a.child.pid));

    const row = await waitFor('the job to finish on B', async () => {
      const r = await jobRow(workDir, sha);
      return r?.status === 'done' ? r : null;
    }, 60_000, 200);
    assert.equal(row.worker, 'B');
    assert.equal(row.attempts, 2, 'two starts: the killed one and the resumed one');
    const detail = JSON.parse(row.detail!) as Detail;
    assert.equal(detail.modes[0]!.resumed_from, atKill, 'B resumed from every loop A had journaled');
    assert.equal(detail.modes[0]!.loops_run, LOOPS - atKill, 'B ran only the loops A had not finished');
    // Resumed, not redone: the journal still begins with every byte A had made durable (same header, same loops).
    assert.ok(readFileSync(journal, 'utf8').startsWith(durable), 'the journal was appended to, not started over');
    const seeds = journalLoops(journal);
    assert.deepEqual([...seeds].sort((x, y) => x - y), Array.from({ length: LOOPS }, (_, i) => i), 'every loop once in the journal: none lost, none twice');
    assert.ok(!existsSync(join(outDir, LOCK_FILE)), 'B took the stale lock over and released it');
    assert.match(b.log(), /stalled/);

    const serial = serialScan(model!, sentences, LOOPS);
    assert.equal(row.verdict, serial.verdict);
    assert.ok(Math.abs(row.score! - serial.driver.score) < 1e-9, `score ${row.score} vs serial ${serial.driver.score}`);
    b.child.kill('SIGTERM');
    assert.equal(await b.exited, 0, b.log());
  });
});

test('a worker stopped with SIGTERM mid-scan exits 0 and its job goes back at once; the next worker resumes it', { skip: skip ?? false, timeout: 120_000 }, async () => {
  await withRedis(false, async (redis) => {
    const LOOPS = 24;
    const { dirs: [model], sentences } = slowModels(1);
    const workDir = tmpDir('fleet-term');
    const env = { LMS_CACHE: tmpDir('fleet-cache') };
    // A long lock: only a job handed back on purpose can move on quickly.
    const queue = ['--redis', redis.url, '--queue', 'term', '--work-dir', workDir, '--lock-ms', '60000'];
    const a = spawnCli(['fleet', 'worker', ...queue, '--name', 'A'], env);
    await waitFor('worker A', () => a.log().includes('worker A on queue'), 30_000, 20);
    assert.equal(runCli(['fleet', 'submit', model!, ...queue.slice(0, 6), ...settings(sentences, LOOPS)], env).status, 0);
    await started(a, model!);
    const journal = join(workDir, modelHash(model!), 'cls', 'journal.jsonl');
    await waitFor('two journaled loops', () => journalLoops(journal).length >= 2, 60_000, 10);
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0, a.log());
    assert.match(a.log(), /the job is back on the queue/);
    const atStop = journalLoops(journal).length;
    const t0 = Date.now();
    const b = spawnCli(['fleet', 'worker', ...queue, '--name', 'B'], env);
    const row = await waitFor('the job to finish on B', async () => {
      const r = await jobRow(workDir, modelHash(model!));
      return r?.status === 'done' ? r : null;
    }, 50_000, 200);
    assert.ok(Date.now() - t0 < 50_000, 'picked up without waiting for the 60 s lock to expire');
    assert.equal(row.worker, 'B');
    assert.equal((JSON.parse(row.detail!) as Detail).modes[0]!.resumed_from, atStop);
    assert.deepEqual([...journalLoops(journal)].sort((x, y) => x - y), Array.from({ length: LOOPS }, (_, i) => i));
    b.child.kill('SIGTERM');
    assert.equal(await b.exited, 0, b.log());
  });
});

test('Redis killed and restarted while jobs run: no job is lost, every verdict equals a serial scan\'s', { skip: skip ?? false, timeout: 150_000 }, async () => {
  await withRedis(true, async (redis) => {
    const LOOPS = 12;
    const { dirs, sentences } = slowModels(3);
    const workDir = tmpDir('fleet-redis');
    const env = { LMS_CACHE: tmpDir('fleet-cache') };
    const queue = ['--redis', redis.url, '--queue', 'restart', '--work-dir', workDir];
    const w = spawnCli(['fleet', 'worker', ...queue, '--name', 'W', '--lock-ms', '5000'], env);
    assert.equal(runCli(['fleet', 'submit', ...dirs, ...queue, ...settings(sentences, LOOPS)], env).status, 0);
    await started(w, dirs[0]!);
    await waitFor('the first scan half done', () => journalLoops(join(workDir, modelHash(dirs[0]!), 'cls', 'journal.jsonl')).length >= 4, 60_000, 20);
    // appendfsync always: every write Redis acknowledged is on disk when it dies.
    await redis.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));
    await redis.start();
    const lines = await waitFor('three results', () => {
      const r = runCli(['fleet', 'results', '--json', '--work-dir', workDir], env);
      const rows = JSON.parse(r.stdout || '[]') as { model: string; verdict: string; score: number }[];
      return rows.length === 3 ? rows : null;
    }, 100_000, 500);
    assert.match(w.log(), /unreachable/);
    assert.match(w.log(), /reachable again/);
    assert.equal(w.child.exitCode, null, 'the worker survived the outage');
    const st = JSON.parse(runCli(['fleet', 'status', '--json', ...queue], env).stdout);
    assert.equal(st.queue.counts.completed, 3, JSON.stringify(st));
    assert.equal(st.queue.counts.failed, 0);
    for (const [i, dir] of dirs.entries()) {
      const serial = serialScan(dir, sentences, LOOPS);
      assert.equal(lines[i]!.model, dir);
      assert.equal(lines[i]!.verdict, serial.verdict);
      assert.ok(Math.abs(lines[i]!.score - serial.driver.score) < 1e-9);
    }
    w.child.kill('SIGTERM');
    assert.equal(await w.exited, 0, w.log());
  });
});

test('a worker told to stop while Redis is down still exits 0 within its grace period', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const redis = await startRedis({ appendonly: false });
  const w = spawnCli(['fleet', 'worker', '--redis', redis.url, '--queue', 'down', '--work-dir', tmpDir('fleet-down'), '--name', 'D'], { LMS_CACHE: tmpDir('fleet-cache') });
  await waitFor('worker D', () => w.log().includes('worker D on queue'), 30_000, 20);
  await redis.stop('SIGKILL');
  await waitFor('the worker to notice', () => w.log().includes('unreachable'), 20_000, 50);
  const t0 = Date.now();
  w.child.kill('SIGTERM');
  assert.equal(await w.exited, 0, w.log());
  assert.ok(Date.now() - t0 < 15_000, `exited after ${Date.now() - t0} ms`);
});
