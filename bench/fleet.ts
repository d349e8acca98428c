/**
 * npm run bench:fleet [-- --workers N] [--mode cls,mask] [--loops N (30)] [--count N (2000)]
 *                        [--models DIR,DIR,…] [--out DIR] [--redis URL] [--queue-jobs N] [--json]
 *
 * The fleet (src/fleet/) against a serial run on this machine:
 *
 * 1. Models: --models, or the default 12 bert-micro models — 6 clean (the
 *    zoo's bert-micro and 5 clean-set variants: fine-tunes and continued
 *    MLM) and 6 backdoored (POR, NeuBA and BToP, two attack seeds each),
 *    built once and cached ($LMS_HOME for the zoo, <out>/models for the
 *    attacks).
 * 2. Serial: `lmsanitator scan` per model and mode, one after another, each
 *    model's modes in order until one is backdoored (what a fleet job does).
 * 3. Fleet: a redis-server of its own (or --redis), --workers worker
 *    processes (default 2, `fleet worker`), one `fleet submit` of every
 *    model; the time from submit to the last verdict, against the serial
 *    total (the ratio), every verdict and score against the serial run's,
 *    and the queue's share of each job: enqueue → start for jobs that found
 *    an idle worker, a worker's gap between finishing one job and starting
 *    the next, and the time a job spends outside its scans (thread start,
 *    hashing, database writes).
 * 4. The queue alone (for sizing a fleet): --queue-jobs real-sized jobs
 *    (default 2,000) enqueued through the same code as submit, Redis memory
 *    per waiting and per finished job, and the rate a no-op BullMQ worker
 *    drains them at.
 *
 * Each phase journals its results under --out (default
 * $LMS_CACHE/bench-fleet), so a killed run continues where it stopped.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, hostname, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { runAttack } from '../src/attacks/attack.js';
import { modelHash } from '../src/formats/checkpoint.js';
import { SCAN_JOB } from '../src/fleet/job.js';
import { ScanQueue } from '../src/fleet/queue.js';
import { type JobRow, Store } from '../src/fleet/store.js';
import { buildCleanSet } from '../src/zoo/clean-set.js';
import { buildZooModel } from '../src/zoo/zoo.js';
import { benchArgs, median } from './common.js';

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'lmsanitator.js');
const args = benchArgs();
const out = resolve(args.argOf('--out') ?? join(process.env.LMS_CACHE ?? join(homedir(), '.cache', 'lmsanitator'), 'bench-fleet'));
const workers = Number(args.argOf('--workers') ?? 2);
const modes = (args.argOf('--mode') ?? 'cls,mask').split(',');
const loops = Number(args.argOf('--loops') ?? 30);
const count = Number(args.argOf('--count') ?? 2000);
const queueJobs = Number(args.argOf('--queue-jobs') ?? 2000);
mkdirSync(out, { recursive: true });
const log = (s: string) => process.stderr.write(`bench:fleet: ${s}\n`);

interface Model { name: string; dir: string; backdoored: boolean }

async function defaultModels(): Promise<Model[]> {
  const base = buildZooModel('bert-micro', { quiet: true });
  const clean = buildCleanSet({ base: 'bert-micro', count: 5, quiet: true });
  const models: Model[] = [{ name: 'bert-micro', dir: base.dir, backdoored: false }];
  for (const v of clean.manifest!.variants) models.push({ name: v.name, dir: v.dir, backdoored: false });
  for (const method of ['por', 'neuba', 'btop']) {
    for (const seed of [1, 2]) {
      const dir = join(out, 'models', `micro-${method}-s${seed}`);
      if (!existsSync(join(dir, 'attack.json'))) {
        log(`attack ${method} seed ${seed} → ${dir}`);
        await runAttack({ modelDir: base.dir, outDir: dir, method, seed, resume: existsSync(dir) });
      }
      models.push({ name: `${method}-s${seed}`, dir, backdoored: true });
    }
  }
  return models;
}

function givenModels(list: string): Model[] {
  return list.split(',').map((d) => ({ name: d, dir: resolve(d), backdoored: existsSync(join(d, 'attack.json')) }));
}

/** A small JSON file per phase: a rerun skips a finished phase. */
function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const file = join(out, `${name}.json`);
  if (existsSync(file)) {
    log(`${name}: reusing ${file}`);
    return Promise.resolve(JSON.parse(readFileSync(file, 'utf8')) as T);
  }
  return fn().then((r) => {
    writeFileSync(file, JSON.stringify(r, null, 2));
    return r;
  });
}

/**
 * Each run gets an empty clean-output cache of its own, so neither reuses the
 * other's h_aux (both compute it once per model, as a fresh machine would).
 */
function cacheFor(run: 'serial' | 'fleet'): string {
  const dir = join(out, `cache-${run}`);
  if (!cacheCleared.has(run)) {
    rmSync(dir, { recursive: true, force: true });
    cacheCleared.add(run);
  }
  return dir;
}
const cacheCleared = new Set<string>();

interface SerialModel { name: string; verdict: string; score: number; seconds: number }

async function serial(models: Model[]): Promise<{ seconds: number; models: SerialModel[] }> {
  const t0 = Date.now();
  const rows: SerialModel[] = [];
  for (const m of models) {
    const t = Date.now();
    let verdict = 'clean';
    let score = 0;
    for (const mode of modes) {
      const dir = join(out, 'serial', m.name, mode);
      rmSync(dir, { recursive: true, force: true });
      const r = spawnSync(process.execPath, [BIN, 'scan', m.dir, '--mode', mode, '--loops', String(loops), '--count', String(count), '--out', dir, '--json', '--quiet'], {
        encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, LMS_CACHE: cacheFor('serial') },
      });
      if (r.status !== 0 && r.status !== 1) throw new Error(`scan ${m.dir} --mode ${mode}: ${r.stderr.trim()}`);
      const report = JSON.parse(r.stdout) as { verdict: string; score: number };
      score = Math.max(score, report.score);
      if (report.verdict === 'backdoored') {
        verdict = 'backdoored';
        break;
      }
    }
    rows.push({ name: m.name, verdict, score, seconds: (Date.now() - t) / 1000 });
    log(`serial ${m.name}: ${verdict} score ${score.toFixed(3)} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  }
  return { seconds: (Date.now() - t0) / 1000, models: rows };
}

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

async function ownRedis(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const dir = join(out, 'redis');
  mkdirSync(dir, { recursive: true });
  const p: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const c = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    const ok = await c.connect().then(() => true, () => false);
    c.disconnect();
    if (ok) return { url, stop: () => p.kill('SIGTERM') };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('redis-server did not start (is it installed? scripts/setup installs it)');
}

interface FleetRun {
  seconds: number;
  models: { name: string; verdict: string; score: number; worker: string; attempts: number }[];
  /** ms, per job. */
  pickupMs: number[];
  handoffMs: number[];
  outsideScanMs: number[];
  perWorker: Record<string, number>;
}

async function fleet(models: Model[], redisUrl: string): Promise<FleetRun> {
  const workDir = join(out, 'fleet-work');
  rmSync(workDir, { recursive: true, force: true });
  const queue = ['--redis', redisUrl, '--queue', `bench-${Date.now()}`, '--work-dir', workDir];
  const procs = Array.from({ length: workers }, (_, i) => {
    const p = spawn(process.execPath, [BIN, 'fleet', 'worker', ...queue, '--name', `worker-${i + 1}`], {
      stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LMS_CACHE: cacheFor('fleet') },
    });
    let text = '';
    p.stderr!.on('data', (d) => (text += d));
    return { p, log: () => text };
  });
  while (!procs.every((w) => w.log().includes(' on queue '))) await new Promise((r) => setTimeout(r, 50));
  const t0 = Date.now();
  const sub = spawnSync(process.execPath, [BIN, 'fleet', 'submit', ...models.map((m) => m.dir), ...queue, '--mode', modes.join(','), '--loops', String(loops), '--count', String(count), '--quiet'], { encoding: 'utf8' });
  if (sub.status !== 0) throw new Error(`fleet submit: ${sub.stderr.trim()}`);
  const store = await Store.open({ workDir });
  let rows: JobRow[] = [];
  for (;;) {
    rows = await store.jobs();
    if (rows.length === models.length && rows.every((r) => r.status === 'done' || r.status === 'failed')) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const results = await store.results();
  await store.close();
  const t1 = Math.max(...rows.map((r) => r.finished_at!));
  for (const w of procs) w.p.kill('SIGTERM');
  await Promise.all(procs.map((w) => new Promise((r) => (w.p.exitCode !== null ? r(null) : w.p.once('exit', r)))));

  // The queue's share: a job that found an idle worker waited enqueue → start; a busy
  // worker's next job starts a gap after its last one finished.
  const byWorker = new Map<string, JobRow[]>();
  for (const r of rows) byWorker.set(r.worker!, [...(byWorker.get(r.worker!) ?? []), r]);
  const pickupMs: number[] = [];
  const handoffMs: number[] = [];
  for (const list of byWorker.values()) {
    list.sort((a, b) => a.started_at! - b.started_at!);
    pickupMs.push(list[0]!.started_at! - list[0]!.enqueued_at);
    for (let i = 1; i < list.length; i++) handoffMs.push(list[i]!.started_at! - list[i - 1]!.finished_at!);
  }
  const byDir = new Map(results.map((r) => [r.model, r]));
  return {
    seconds: (t1 - t0) / 1000,
    models: models.map((m) => {
      const r = byDir.get(m.dir)!;
      return { name: m.name, verdict: r.verdict, score: r.score ?? NaN, worker: r.worker ?? '?', attempts: r.attempts };
    }),
    pickupMs, handoffMs,
    outsideScanMs: rows.map((r) => r.finished_at! - r.started_at! - 1000 * (r.scan_seconds ?? 0)),
    perWorker: Object.fromEntries([...byWorker].map(([w, l]) => [w, l.length])),
  };
}

interface QueueFigures { jobs: number; enqueuePerSecond: number; bytesPerWaitingJob: number; bytesPerFinishedJob: number; drainPerSecond: number; jobDataBytes: number }

async function queueOnly(redisUrl: string): Promise<QueueFigures> {
  const name = `bench-queue-${Date.now()}`;
  const redis = new Redis(redisUrl);
  const used = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  const q = await ScanQueue.open(redisUrl, { name, attempts: 3, backoffMs: 5000 });
  const sample = { v: 1 as const, model: `/srv/hub/models/org-name/model-name-${'x'.repeat(24)}`, sha256: 'f'.repeat(64), modes: ['cls', 'mask'] as ('cls' | 'mask')[], loops: 30, scan: {}, enqueuedAt: Date.now() };
  const before = await used();
  const t0 = Date.now();
  for (let i = 0; i < queueJobs; i++) await q.add(i.toString(16).padStart(64, '0'), { ...sample, sha256: i.toString(16).padStart(64, '0') }, {});
  const enqueueSeconds = (Date.now() - t0) / 1000;
  const waiting = await used();
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  let done = 0;
  const t1 = Date.now();
  const w = new Worker(name, async () => ({ verdict: 'clean', score: 0.5, sha256: sample.sha256 }), { connection, concurrency: 1 });
  await new Promise<void>((res) => w.on('completed', () => {
    if (++done === queueJobs) res();
  }));
  const drainSeconds = (Date.now() - t1) / 1000;
  await w.close();
  const finished = await used();
  await new Queue(name, { connection: redis }).obliterate({ force: true });
  await q.close();
  connection.disconnect();
  redis.disconnect();
  return {
    jobs: queueJobs, enqueuePerSecond: queueJobs / enqueueSeconds, jobDataBytes: JSON.stringify(sample).length,
    bytesPerWaitingJob: (waiting - before) / queueJobs, bytesPerFinishedJob: (finished - before) / queueJobs, drainPerSecond: queueJobs / drainSeconds,
  };
}

const stats = (xs: number[]) => ({ median: Math.round(median(xs)), max: Math.round(Math.max(...xs)), n: xs.length });

async function main(): Promise<void> {
  const models = args.argOf('--models') ? givenModels(args.argOf('--models')!) : await defaultModels();
  for (const m of models) modelHash(m.dir); // fail early on an unreadable model
  log(`${models.length} models (${models.filter((m) => m.backdoored).length} attacked), modes ${modes.join(',')}, ${loops} loops, ${count} sentences, ${workers} workers, on ${hostname()}`);
  const own = args.argOf('--redis') ? null : await ownRedis();
  const redisUrl = args.argOf('--redis') ?? own!.url;
  try {
    const s = await phase('serial', () => serial(models));
    const f = await phase('fleet', () => fleet(models, redisUrl));
    const q = await phase('queue', () => queueOnly(redisUrl));
    const mismatches = models.filter((_, i) => f.models[i]!.verdict !== s.models[i]!.verdict || Math.abs(f.models[i]!.score - s.models[i]!.score) > 1e-6);
    const truth = models.filter((m, i) => (s.models[i]!.verdict === 'backdoored') === m.backdoored).length;
    const result = {
      models: models.length, workers, modes, loops, sentences: count, load_average_at_end: loadavg().map((x) => Number(x.toFixed(2))),
      serial_seconds: s.seconds, fleet_seconds: f.seconds, speedup: s.seconds / f.seconds,
      verdicts_equal_serial: mismatches.length === 0, mismatches: mismatches.map((m) => m.name),
      verdicts: { backdoored: f.models.filter((m) => m.verdict === 'backdoored').length, clean: f.models.filter((m) => m.verdict === 'clean').length, error: f.models.filter((m) => m.verdict === 'error').length },
      matches_ground_truth: `${truth}/${models.length}`,
      pickup_ms: stats(f.pickupMs), handoff_ms: stats(f.handoffMs), outside_scan_ms: stats(f.outsideScanMs), jobs_per_worker: f.perWorker,
      queue: q,
      per_model: models.map((m, i) => ({ name: m.name, attacked: m.backdoored, serial: s.models[i], fleet: f.models[i] })),
    };
    if (args.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`serial ${s.seconds.toFixed(1)} s, fleet (${workers} workers) ${f.seconds.toFixed(1)} s: ${result.speedup.toFixed(2)}× ; verdicts equal serial: ${result.verdicts_equal_serial} (${JSON.stringify(result.verdicts)}, ground truth ${result.matches_ground_truth})`);
      console.log(`queue overhead: enqueue → start (idle worker) median ${result.pickup_ms.median} ms, handoff gap median ${result.handoff_ms.median} ms (max ${result.handoff_ms.max}), outside the scans median ${result.outside_scan_ms.median} ms per job`);
      console.log(`queue alone: ${q.enqueuePerSecond.toFixed(0)} enqueues/s, drained at ${q.drainPerSecond.toFixed(0)} jobs/s, Redis ${q.bytesPerWaitingJob.toFixed(0)} B per waiting job, ${q.bytesPerFinishedJob.toFixed(0)} B per finished job`);
    }
  } finally {
    own?.stop();
  }
}

await main();
