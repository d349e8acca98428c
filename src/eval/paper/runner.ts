/**
 * `eval paper`'s runner: the plan's cells in order, each finished cell
 * appended to DIR/paper.jsonl (sanitizer/journal.ts: one JSON line,
 * fsynced) with its result, configuration, seeds, model sha256s and
 * seconds, so that a kill loses at most the cell in flight, and that
 * cell's evaluator resumes from its own journal. A rerun skips journaled
 * cells without loading anything for them. A cell that throws is
 * journaled as failed (the page shows the error) and retried by the next
 * run; the cells that need it are left for that run too.
 *
 * With `jobs` > 1 the cells run in forked processes (cell-process.ts), up
 * to `jobs` at a time, each with its share of the threads: a cell starts,
 * in plan order, once its dependencies are done and no running cell holds
 * one of its locks (plan.ts cellLocks: the directories two cells would
 * both write); the journal is still appended here only, one line per
 * finished cell, so a kill loses at most the cells in flight.
 *
 * DIR/paper-settings.json pins the budget and the data directory: a rerun
 * with others is refused. The zoo, --tables and --tasks may change between
 * runs (cells are keyed by model, table and task).
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic, writeTextFileAtomic } from '../../formats/file-io.js';
import { appendRecord, readRecords } from '../../sanitizer/journal.js';
import { locateDataDir, packageRoot } from '../../text/data-dir.js';
import { duration } from '../../util/progress.js';
import { type BudgetName, paperBudget } from './budget.js';
import { type CellContext, type CellOutcome, type CellReply, settleCell } from './cells.js';
import { paperHtml } from './html.js';
import { type CellKind, cellLocks, type CellSpec, makePlan, type PaperPlan } from './plan.js';
import { buildReport, type PaperReport } from './tables.js';

export const PAPER_JOURNAL = 'paper.jsonl';
export const PAPER_SETTINGS_FILE = 'paper-settings.json';
export const PAPER_JSON = 'paper.json';
export const PAPER_HTML = 'paper.html';
export const PAPER_FORMAT = 'lmsanitator-paper';

/** One journal line: a cell that finished (or failed). */
export interface PaperRecord extends CellOutcome {
  id: string;
  kind: CellKind;
  status: 'done' | 'failed';
  /** failed: the error message. */
  error?: string;
  /** Wall seconds of the run that finished the cell (a resumed cell's evaluator reports its own earlier time in `result`). */
  seconds: number;
  started: string;
  finished: string;
}

export interface PaperOptions {
  zoo: readonly string[];
  budget: BudgetName;
  outDir: string;
  dataDir?: string;
  tables?: readonly string[];
  tasks?: readonly string[];
  quiet?: boolean;
  shouldStop?: () => boolean;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
  /** Cells run at the same time, each in a process of its own with its share of the threads (default 1: in this process). */
  jobs?: number;
}

/** What the runner sends a cell process (cell-process.ts). */
export interface CellJob {
  cellId: string;
  zoo: readonly string[];
  budget: BudgetName;
  tables?: readonly string[];
  tasks?: readonly string[];
  outDir: string;
  dataDir?: string;
  /** The journaled outcomes of the cell's dependencies. */
  deps: Record<string, CellOutcome>;
}

interface Executor {
  run(cell: CellSpec): Promise<CellReply>;
  /** Asks every running cell to stop at its next safe point. */
  stopAll(): void;
}

/** --jobs 1: each cell in this process, as the CLI's own interrupt flag stops it. */
function inProcess(ctx: CellContext): Executor {
  return { run: (cell) => settleCell(cell, ctx), stopAll() {} };
}

/** Threads per cell process: the machine's (LMS_NUM_THREADS, else its CPUs) split evenly, at least one. */
function childThreads(jobs: number): number {
  const total = Number(process.env.LMS_NUM_THREADS) || cpus().length;
  return Math.max(1, Math.floor(total / jobs));
}

/** A cell's dependencies and theirs (an evaluator may read a dependency's own, e.g. the base model of an attack). */
function dependencyClosure(cell: CellSpec, byId: ReadonlyMap<string, CellSpec>): Set<string> {
  const out = new Set<string>();
  const visit = (id: string) => {
    if (out.has(id)) return;
    out.add(id);
    byId.get(id)?.deps.forEach(visit);
  };
  cell.deps.forEach(visit);
  return out;
}

/** --jobs N: each cell in a forked cell-process.js; its stderr is this process's. */
function inChildProcess(o: PaperOptions, plan: PaperPlan, records: ReadonlyMap<string, PaperRecord>, threads: number): Executor {
  const byId = new Map(plan.cells.map((c) => [c.id, c]));
  const children = new Set<ChildProcess>();
  let stopping = false;
  const entry = fileURLToPath(new URL('./cell-process.js', import.meta.url));
  return {
    run(cell) {
      const env = { ...process.env, LMS_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
      const child = fork(entry, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.add(child);
      const deps = Object.fromEntries([...dependencyClosure(cell, byId)].map((d) => {
        const { result, config, seeds, models } = records.get(d)!;
        return [d, { result, config, seeds, models }];
      }));
      const job: CellJob = { cellId: cell.id, zoo: o.zoo, budget: o.budget, tables: o.tables, tasks: o.tasks, outDir: o.outDir, dataDir: o.dataDir, deps };
      child.send(job);
      return new Promise<CellReply>((resolve) => {
        let reply: CellReply | null = null;
        child.on('message', (m: CellReply) => { reply = m; });
        child.on('error', (e) => { reply ??= { type: 'failed', error: `cell process: ${e.message.replace(/\s*\n\s*/g, ' ')}` }; });
        child.on('exit', (code, signal) => {
          children.delete(child);
          // A cell process that quit on an interrupt (a second Ctrl-C exits at once, code 130) was stopped, not failed: it is not journaled.
          const stopped = stopping || code === 130 || signal === 'SIGINT' || signal === 'SIGTERM';
          resolve(reply ?? (stopped ? { type: 'interrupted' } : { type: 'failed', error: `the cell's process ended ${signal ? `by ${signal}` : `with exit code ${code}`} before reporting` }));
        });
      });
    },
    stopAll() {
      // Once: a second SIGINT makes a cell process quit at once, without saving.
      if (stopping) return;
      stopping = true;
      for (const c of children) c.kill('SIGINT');
    },
  };
}

export interface PaperRunResult {
  interrupted: boolean;
  plan: PaperPlan;
  /** Cells to run in this plan, and of those journaled as done (all runs). */
  total: number;
  done: number;
  /** This run: cells finished, failed, skipped as journaled. */
  ran: string[];
  failed: string[];
  skipped: string[];
  report: PaperReport | null;
  jsonFile: string | null;
  htmlFile: string | null;
}

function isRecord(v: unknown): v is PaperRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.id === 'string' && (r.status === 'done' || r.status === 'failed') && typeof r.seconds === 'number' && typeof r.result === 'object';
}

/** The journal's records by cell id (a later line replaces an earlier one; a torn last line is cut off and its cell redone). */
export function readPaperJournal(file: string): Map<string, PaperRecord> {
  return readRecords(file, isRecord, (r) => r.id, 'an eval paper record');
}

interface PaperSettings {
  format: 'lmsanitator-paper-settings';
  version: 1;
  budget: BudgetName;
  budget_settings: unknown;
  data_dir: string | null;
}

function checkSettings(outDir: string, wanted: PaperSettings): void {
  const file = join(outDir, PAPER_SETTINGS_FILE);
  if (!existsSync(file)) {
    if (existsSync(join(outDir, PAPER_JOURNAL))) throw new Error(`${join(outDir, PAPER_JOURNAL)} has no ${PAPER_SETTINGS_FILE} beside it, so its budget is unknown; use another --out`);
    writeJsonAtomic(file, wanted);
    return;
  }
  let had: PaperSettings;
  try {
    had = JSON.parse(readFileSync(file, 'utf8')) as PaperSettings;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); remove it or use another --out`);
  }
  if (had?.format !== wanted.format) throw new Error(`${file}: not an eval paper run's settings; use another --out`);
  if (had.budget !== wanted.budget || JSON.stringify(had.budget_settings) !== JSON.stringify(wanted.budget_settings)) {
    throw new Error(`${outDir} holds an eval paper run with --budget ${had.budget}${had.budget === wanted.budget ? ' of other settings (an older version of the budget)' : ''}; use --budget ${had.budget} to resume it, or another --out`);
  }
  if (had.data_dir !== wanted.data_dir) throw new Error(`${outDir} holds an eval paper run on the data in ${had.data_dir ?? '(none)'}, not ${wanted.data_dir ?? '(none)'}; use the same --data-dir to resume, or another --out`);
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: packageRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
  } catch {
    return null;
  }
}

export async function runPaper(o: PaperOptions): Promise<PaperRunResult> {
  const log = o.log ?? (() => {});
  const stop = o.shouldStop ?? (() => false);
  const budget = paperBudget(o.budget);
  const plan = makePlan({ zoo: o.zoo, budget, tables: o.tables, tasks: o.tasks });
  if (o.dataDir !== undefined && !existsSync(o.dataDir)) throw new Error(`--data-dir ${o.dataDir}: no such directory`);
  mkdirSync(o.outDir, { recursive: true });
  checkSettings(o.outDir, { format: 'lmsanitator-paper-settings', version: 1, budget: budget.name, budget_settings: budget, data_dir: locateDataDir(o.dataDir)?.dir ?? null });
  const journal = join(o.outDir, PAPER_JOURNAL);
  const records = readPaperJournal(journal);

  const todo = plan.cells.filter((c) => !c.reason);
  const total = todo.length;
  const isDone = (id: string) => records.get(id)?.status === 'done';
  log(`eval paper: ${budget.name} budget, ${plan.zoo.join(', ')}; ${total} cells to run, ${todo.filter((c) => isDone(c.id)).length} journaled (${journal})`);
  const ctx: CellContext = {
    outDir: o.outDir, dataDir: o.dataDir, budget, quiet: Boolean(o.quiet), shouldStop: stop, log,
    dep: (id) => {
      const r = records.get(id);
      if (r?.status !== 'done') throw new Error(`internal: ${id} is not done`);
      return r;
    },
  };
  const ran: string[] = [];
  const failed: string[] = [];
  const skipped: string[] = [];
  const jobs = o.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new RangeError(`--jobs must be a positive integer, got ${jobs}`);
  const execute = jobs === 1 ? inProcess(ctx) : inChildProcess(o, plan, records, childThreads(jobs));
  if (jobs > 1) log(`eval paper: up to ${jobs} cells at a time, ${childThreads(jobs)} thread${childThreads(jobs) === 1 ? '' : 's'} each`);

  // Cells start in plan order once their dependencies are done and no running cell holds one of their locks.
  let k = 0;
  const tagOf = new Map<string, string>();
  const tag = (id: string) => {
    if (!tagOf.has(id)) tagOf.set(id, `[${++k}/${total}] ${id}`);
    return tagOf.get(id)!;
  };
  let pending = todo.filter((c) => {
    if (!isDone(c.id)) return true;
    skipped.push(c.id);
    log(`${tag(c.id)}: journaled, skipped`);
    return false;
  });
  const running = new Map<string, Promise<{ cell: CellSpec; reply: CellReply; started: Date; seconds: number }>>();
  const held = new Set<string>();
  let interrupted = false;
  for (;;) {
    if (!interrupted && stop()) {
      interrupted = true;
      execute.stopAll();
    }
    if (!interrupted) {
      const waiting = new Set([...pending.map((c) => c.id), ...running.keys()]);
      pending = pending.filter((cell) => {
        const missing = cell.deps.filter((d) => !isDone(d));
        if (missing.some((d) => !waiting.has(d))) {
          log(`${tag(cell.id)}: waits for ${missing.join(', ')} (not done)`);
          return false;
        }
        return true;
      });
      for (const cell of [...pending]) {
        if (running.size >= jobs) break;
        const locks = cellLocks(cell, budget);
        if (cell.deps.some((d) => !isDone(d)) || locks.some((l) => held.has(l))) continue;
        pending = pending.filter((c) => c !== cell);
        locks.forEach((l) => held.add(l));
        log(`${tag(cell.id)}: running`);
        const started = new Date();
        const t0 = performance.now();
        running.set(cell.id, execute.run(cell).then((reply) => ({ cell, reply, started, seconds: Math.round(performance.now() - t0) / 1000 })));
      }
    }
    if (running.size === 0) break;
    // Wake at least twice a second to see an interrupt while cells run.
    const next = await Promise.race([...running.values(), new Promise<null>((r) => setTimeout(() => r(null), 500).unref())]);
    if (next === null) continue;
    const { cell, reply, started, seconds } = next;
    running.delete(cell.id);
    cellLocks(cell, budget).forEach((l) => held.delete(l));
    if (reply.type === 'interrupted') {
      interrupted = true;
      execute.stopAll();
      continue;
    }
    const base = { id: cell.id, kind: cell.kind, seconds, started: started.toISOString(), finished: new Date().toISOString() };
    const rec: PaperRecord = reply.type === 'done'
      ? { ...base, status: 'done', ...reply.outcome }
      : { ...base, status: 'failed', error: reply.error, result: {}, config: {}, seeds: {}, models: {} };
    appendRecord(journal, rec);
    records.set(cell.id, rec);
    if (rec.status === 'done') {
      ran.push(cell.id);
      log(`${tag(cell.id)}: done in ${duration(rec.seconds)}`);
    } else {
      failed.push(cell.id);
      log(`${tag(cell.id)}: FAILED after ${duration(rec.seconds)}: ${rec.error}`);
    }
  }
  const done = todo.filter((c) => isDone(c.id)).length;
  if (interrupted) return { interrupted, plan, total, done, ran, failed, skipped, report: null, jsonFile: null, htmlFile: null };

  const report = buildReport(plan, records, {
    format: PAPER_FORMAT, created: new Date().toISOString(), commit: gitCommit(), dataDir: locateDataDir(o.dataDir)?.dir ?? null, cpus: cpus().length,
  });
  const jsonFile = join(o.outDir, PAPER_JSON);
  const htmlFile = join(o.outDir, PAPER_HTML);
  writeJsonAtomic(jsonFile, report);
  writeTextFileAtomic(htmlFile, paperHtml(report));
  return { interrupted, plan, total, done, ran, failed, skipped, report, jsonFile, htmlFile };
}
