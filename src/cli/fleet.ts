/**
 * `lmsanitator fleet submit|worker|status|results`: scanning many models
 * with a BullMQ queue on Redis, workers on any number of machines, and
 * the verdicts in one database (src/fleet/). Without --redis nothing here
 * is needed: `scan` works alone, and `fleet submit --local` runs the same
 * jobs in this process.
 */
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_QUEUE } from '../fleet/job.js';
import { runLocal } from '../fleet/local.js';
import { checkRedisUrl, QUEUE_DEFAULTS, safeRedisUrl, ScanQueue } from '../fleet/queue.js';
import { type ResultLine, Store } from '../fleet/store.js';
import { type SubmitOptions, type SubmitOutcome, submitModels } from '../fleet/submit.js';
import { startWorker, WORKER_DEFAULTS } from '../fleet/worker.js';
import { SCAN_DEFAULTS } from '../eval/scan-model.js';
import { TARGET_MODES, type TargetMode } from '../sanitizer/target.js';
import { EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, exitCodes, intOpt, listOf, STANDARD_EXITS } from './options.js';
import { interruptFlag } from '../util/signals.js';
import { EXIT_BACKDOORED, EXIT_CLEAN } from './scan.js';

/** Where journals, reports and the SQLite database live unless --work-dir says otherwise. */
export function defaultWorkDir(): string {
  return process.env.LMS_FLEET_DIR ?? join(process.env.LMS_CACHE ?? join(homedir(), '.cache', 'lmsanitator'), 'fleet');
}

interface Common {
  workDir: string;
  db?: string;
  queue: string;
  redis?: string;
  json?: boolean;
  quiet?: boolean;
}

const redisUrl = (v: string) => {
  try {
    return checkRedisUrl(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

function common(cmd: Command, redis: 'required' | 'optional' | 'none'): Command {
  cmd.option('--work-dir <dir>', 'directory every worker shares: <sha256>/<mode>/ holds each scan\'s journal and reports; $LMS_FLEET_DIR, else $LMS_CACHE/fleet', defaultWorkDir())
    .option('--db <file|url>', 'results database: an SQLite file, or a postgres:// URL (default <work-dir>/fleet.sqlite)');
  if (redis !== 'none') {
    const o = new Option('--redis <url>', 'the queue\'s Redis, redis://host:port[/db]').argParser(redisUrl);
    if (redis === 'required') o.makeOptionMandatory();
    cmd.addOption(o).option('--queue <name>', 'queue name (one Redis can hold several fleets)', DEFAULT_QUEUE);
  }
  return cmd;
}

const say = (o: Common) => (line: string) => {
  if (!o.quiet) process.stderr.write(`${line}\n`);
};

interface SubmitParsed extends Common {
  mode: TargetMode[];
  loops: number;
  priority?: number;
  local?: boolean;
  attempts: number;
  backoffMs: number;
  sentences?: string;
  count?: number;
  batch?: number;
  epochs?: number;
  seed?: number;
  maxModelMb: number;
}

function submitOptions(o: SubmitParsed): SubmitOptions {
  return {
    modes: o.mode, loops: o.loops, priority: o.priority,
    scan: { sentencesFile: o.sentences ? resolve(o.sentences) : undefined, sentenceCount: o.count, batchSize: o.batch, epochs: o.epochs, seed: o.seed },
  };
}

function submittedLine(s: SubmitOutcome): string {
  const sha = s.sha256 ? `sha256 ${s.sha256.slice(0, 12)}…` : 'weights not readable here';
  if (s.status === 'duplicate') return `duplicate ${s.model} (${sha}: same weights as an earlier path; scanned once)`;
  if (s.status === 'known') return `known     ${s.model} (${sha}): ${s.verdict} (scanned before; see fleet results)`;
  return `queued    ${s.model} (${sha})${s.note ? ` — ${s.note}` : ''}`;
}

function resultLine(r: ResultLine): string {
  const v = r.verdict === 'backdoored' ? 'BACKDOORED' : r.verdict === 'clean' ? 'clean' : 'ERROR';
  const score = r.score === null ? '' : ` score ${r.score.toFixed(3)}`;
  return `${v.padEnd(10)} ${r.model}${score} (${r.worker ?? '?'}, ${r.attempts} start${r.attempts === 1 ? '' : 's'})${r.error ? `: ${r.error}` : ''}`;
}

/** Exit code of a batch: 2 if any job failed, else 1 if any model is backdoored, else 0. */
function batchExit(results: ResultLine[]): number {
  if (results.some((r) => r.verdict === 'error')) return EXIT_ERROR;
  return results.some((r) => r.verdict === 'backdoored') ? EXIT_BACKDOORED : EXIT_CLEAN;
}

async function submit(paths: string[], o: SubmitParsed, cmd: Command): Promise<void> {
  if (!o.local && !o.redis) cmd.error('give --redis URL (queue the jobs for workers) or --local (scan them here, in this process)', { exitCode: EXIT_ERROR, code: 'fleet.usage' });
  const store = await Store.open({ db: o.db, workDir: resolve(o.workDir) });
  try {
    if (o.local) {
      const sig = interruptFlag();
      try {
        const run = await runLocal(paths, {
          ...submitOptions(o), store, workDir: resolve(o.workDir), attempts: o.attempts, backoffMs: o.backoffMs,
          maxModelBytes: o.maxModelMb * 2 ** 20, worker: `${hostname()}:${process.pid}`, log: say(o), shouldStop: sig.stopped,
        });
        const mine = new Set(run.submitted.map((s) => s.model));
        const results = (await store.results()).filter((r) => mine.has(r.model));
        if (o.json) console.log(JSON.stringify(results, null, 2));
        else for (const r of results) console.log(resultLine(r));
        process.exitCode = run.interrupted ? EXIT_INTERRUPTED : batchExit(results);
      } finally {
        sig.dispose();
      }
      return;
    }
    const queue = await ScanQueue.open(o.redis!, { name: o.queue, attempts: o.attempts, backoffMs: o.backoffMs });
    try {
      const out = await submitModels(paths, submitOptions(o), store, queue);
      if (o.json) console.log(JSON.stringify(out, null, 2));
      else {
        for (const s of out) console.log(submittedLine(s));
        const n = (k: SubmitOutcome['status']) => out.filter((s) => s.status === k).length;
        say(o)(`${n('queued')} queued, ${n('duplicate')} duplicates, ${n('known')} scanned before, on queue ${o.queue} at ${safeRedisUrl(o.redis!)}`);
      }
      process.exitCode = EXIT_OK;
    } finally {
      await queue.close();
    }
  } finally {
    await store.close();
  }
}

/** How long a stopping worker waits to hand its jobs back before it exits anyway. */
const STOP_GRACE_MS = 10_000;

interface WorkerParsed extends Common {
  concurrency: number;
  name?: string;
  lockMs: number;
  maxModelMb: number;
}

async function worker(o: WorkerParsed): Promise<void> {
  const w = await startWorker({
    redis: o.redis!, queue: o.queue, concurrency: o.concurrency, workDir: resolve(o.workDir), db: o.db, name: o.name,
    lockMs: o.lockMs, maxModelBytes: o.maxModelMb * 2 ** 20, log: (l) => say(o)(`fleet worker: ${l}`),
  });
  await new Promise<void>((done) => {
    let stopping = false;
    const onSignal = () => {
      if (stopping) process.exit(EXIT_INTERRUPTED);
      stopping = true;
      say(o)('fleet worker: stopping: scans stop at their next step, their jobs go back to the queue (signal again to quit at once)');
      // Handing jobs back needs Redis; without it, close() would wait for it forever. The
      // journals are durable line by line, and the queue returns the jobs after --lock-ms.
      setTimeout(() => {
        say(o)(`fleet worker: could not close within ${STOP_GRACE_MS / 1000} s (Redis unreachable?); exiting: the jobs return to the queue once their locks expire`);
        process.exit(EXIT_OK);
      }, STOP_GRACE_MS).unref();
      w.stop().then(done, (e: Error) => {
        process.stderr.write(`fleet worker: ${e.message}\n`);
        done();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  process.exitCode = EXIT_OK;
  // Everything is closed; a handle some library still holds must not keep a stopped worker alive.
  setTimeout(() => process.exit(EXIT_OK), 5000).unref();
}

async function status(o: Common): Promise<void> {
  const store = await Store.open({ db: o.db, workDir: resolve(o.workDir) });
  try {
    const counts = await store.counts();
    const results = await store.results();
    const db = {
      where: store.where, jobs: counts,
      verdicts: { clean: results.filter((r) => r.verdict === 'clean').length, backdoored: results.filter((r) => r.verdict === 'backdoored').length, error: results.filter((r) => r.verdict === 'error').length },
    };
    let queue: { name: string; redis: string; counts: Record<string, number>; workers: string[]; active: unknown[] } | null = null;
    if (o.redis) {
      const q = await ScanQueue.open(o.redis, { name: o.queue, ...QUEUE_DEFAULTS });
      try {
        queue = { name: o.queue, redis: safeRedisUrl(o.redis), counts: await q.counts(), workers: await q.workers(), active: await q.active() };
      } finally {
        await q.close();
      }
    }
    if (o.json) {
      console.log(JSON.stringify({ queue, db }, null, 2));
      return;
    }
    if (queue) {
      const c = queue.counts;
      console.log(`queue ${queue.name} at ${queue.redis}: ${(c.waiting ?? 0) + (c.prioritized ?? 0)} waiting, ${c.active ?? 0} active, ${c.delayed ?? 0} delayed (retry backoff), ${c.completed ?? 0} completed, ${c.failed ?? 0} failed; ${queue.workers.length} worker${queue.workers.length === 1 ? '' : 's'}${queue.workers.length ? ` (${queue.workers.join(', ')})` : ''}`);
      for (const a of queue.active as { model: string; progress: { mode?: string; loopsDone?: number; loops?: number; phase?: string }; attempts: number }[]) {
        const p = a.progress && typeof a.progress === 'object' ? a.progress : {};
        const where = p.phase === 'scanning' ? `${p.mode} loop ${p.loopsDone ?? 0}/${p.loops}` : p.phase ?? 'starting';
        console.log(`  active ${a.model}: ${where} (start ${a.attempts})`);
      }
    }
    const v = db.verdicts;
    console.log(`results ${db.where}: jobs ${counts.done} done, ${counts.failed} failed, ${counts.active} active, ${counts.queued} queued; models ${v.clean} clean, ${v.backdoored} backdoored, ${v.error} errors`);
  } finally {
    await store.close();
  }
}

async function results(o: Common): Promise<void> {
  const store = await Store.open({ db: o.db, workDir: resolve(o.workDir) });
  try {
    const rows = await store.results();
    if (o.json) console.log(JSON.stringify(rows, null, 2));
    else for (const r of rows) console.log(resultLine(r));
  } finally {
    await store.close();
  }
}

export function register(program: Command): void {
  const fleet = program.command('fleet')
    .description('scan many models: a job queue on Redis (BullMQ), workers on any number of machines, verdicts in one database');

  const sub = fleet.command('submit').argument('<model-dir...>', 'model directories (every worker must see them at the same path)')
    .description('queue scan jobs, one per distinct set of weights (the same model twice is scanned once); --local runs them here')
    .addOption(new Option('--mode <list>', `target positions, comma-separated, scanned in order until one is backdoored (${TARGET_MODES.join(', ')})`).argParser(listOf(TARGET_MODES)).default([SCAN_DEFAULTS.mode], SCAN_DEFAULTS.mode))
    .addOption(intOpt('--loops <n>', 'fuzz loops per mode', 1, SCAN_DEFAULTS.loops.scan))
    .addOption(new Option('--priority <p>', 'queue priority, 1 (highest) to 2097152; jobs without one run first, in submission order').argParser((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 2_097_152) throw new InvalidArgumentError('Expected an integer from 1 to 2097152.');
      return n;
    }))
    .addOption(new Option('--local', 'run the jobs in this process, one after another (no Redis); exit 0 all clean, 1 any backdoored, 2 any error').conflicts('redis'))
    .addOption(intOpt('--attempts <n>', 'starts per job before it fails (an input error fails at once)', 1, QUEUE_DEFAULTS.attempts))
    .addOption(intOpt('--backoff-ms <ms>', 'delay before the first retry; doubles each time', 0, QUEUE_DEFAULTS.backoffMs))
    .option('--sentences <file>', 'clean sentences, one per line, at a path every worker sees (default: the built-in corpus)')
    .addOption(intOpt('--count <n>', `clean sentences per scan (default ${SCAN_DEFAULTS.sentenceCount})`, 1))
    .addOption(intOpt('--batch <n>', 'sentences per batch (default 32)', 2))
    .addOption(intOpt('--epochs <n>', 'epochs per loop (default 4)', 1))
    .addOption(intOpt('--seed <n>', 'seed of the first loop (default 0)', 0))
    .addOption(intOpt('--max-model-mb <n>', '--local: refuse models whose weights are larger', 1, WORKER_DEFAULTS.maxModelMb))
    .option('--json', 'print the outcome as JSON')
    .option('--quiet', 'no progress lines on stderr');
  exitCodes(common(sub, 'optional'), [
    [EXIT_OK, 'queued (or, with --local: every model clean)'],
    [EXIT_BACKDOORED, '--local: at least one model backdoored'],
    [EXIT_ERROR, 'bad usage, Redis unreachable, or (--local) a job failed (one line on stderr)'],
    [EXIT_INTERRUPTED, '--local: interrupted; run the same command again to resume'],
  ]).action(async function (this: Command, paths: string[], o: SubmitParsed) {
    await submit(paths, o, this);
  });

  const work = fleet.command('worker')
    .description('take scan jobs off the queue until SIGTERM; a killed worker\'s job goes to another worker and resumes from its journal')
    .addOption(intOpt('--concurrency <n>', 'jobs at once (each scan is one thread)', 1, WORKER_DEFAULTS.concurrency))
    .option('--name <name>', 'worker name in status and results (default host:pid)')
    .addOption(intOpt('--lock-ms <ms>', 'job lock; a dead worker\'s job is taken over after about twice this', 1000, WORKER_DEFAULTS.lockMs))
    .addOption(intOpt('--max-model-mb <n>', 'fail jobs whose weights are larger (bounds the worker\'s memory)', 1, WORKER_DEFAULTS.maxModelMb))
    .option('--quiet', 'no log lines on stderr');
  exitCodes(common(work, 'required'), [[EXIT_OK, 'stopped by SIGTERM or Ctrl-C (running jobs went back to the queue)'], [EXIT_ERROR, 'bad usage or unusable results database (one line on stderr)'], [EXIT_INTERRUPTED, 'a second signal: quit at once']])
    .action((o: WorkerParsed) => worker(o));

  const stat = fleet.command('status').description('the queue (with --redis) and the results database: counts, workers, active jobs')
    .option('--json', 'print as JSON');
  exitCodes(common(stat, 'optional'), STANDARD_EXITS).action((o: Common) => status(o));

  const res = fleet.command('results').description('one line per submitted model whose job has finished: verdict, score, worker, starts')
    .option('--json', 'print [{"model", "sha256", "verdict": "clean"|"backdoored"|"error", "score", "worker", "attempts", "error"?}]');
  exitCodes(common(res, 'none'), STANDARD_EXITS).action((o: Common) => results(o));
}
