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
 * DIR/paper-settings.json pins the budget and the data directory: a rerun
 * with others is refused. The zoo, --tables and --tasks may change between
 * runs (cells are keyed by model, table and task).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic, writeTextFileAtomic } from '../../formats/file-io.js';
import { appendRecord, readRecords } from '../../sanitizer/journal.js';
import { locateDataDir, packageRoot } from '../../text/data-dir.js';
import { duration } from '../../util/progress.js';
import { type BudgetName, paperBudget } from './budget.js';
import { type CellContext, type CellOutcome, Interrupted, runCell } from './cells.js';
import { paperHtml } from './html.js';
import { type CellKind, makePlan, type PaperPlan } from './plan.js';
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
  let interrupted = false;
  let k = 0;
  for (const cell of todo) {
    k++;
    const tag = `[${k}/${total}] ${cell.id}`;
    if (isDone(cell.id)) {
      skipped.push(cell.id);
      log(`${tag}: journaled, skipped`);
      continue;
    }
    const missing = cell.deps.filter((d) => !isDone(d));
    if (missing.length) {
      log(`${tag}: waits for ${missing.join(', ')} (not done)`);
      continue;
    }
    if (stop()) {
      interrupted = true;
      break;
    }
    log(`${tag}: running`);
    const started = new Date();
    const t0 = performance.now();
    let rec: PaperRecord;
    try {
      const out = await runCell(cell, ctx);
      rec = { id: cell.id, kind: cell.kind, status: 'done', ...out, seconds: 0, started: started.toISOString(), finished: '' };
    } catch (e) {
      if (e instanceof Interrupted || stop()) {
        interrupted = true;
        break;
      }
      const msg = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
      rec = { id: cell.id, kind: cell.kind, status: 'failed', error: msg, result: {}, config: {}, seeds: {}, models: {}, seconds: 0, started: started.toISOString(), finished: '' };
    }
    rec.seconds = Math.round(performance.now() - t0) / 1000;
    rec.finished = new Date().toISOString();
    appendRecord(journal, rec);
    records.set(cell.id, rec);
    if (rec.status === 'done') {
      ran.push(cell.id);
      log(`${tag}: done in ${duration(rec.seconds)}`);
    } else {
      failed.push(cell.id);
      log(`${tag}: FAILED after ${duration(rec.seconds)}: ${rec.error}`);
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
