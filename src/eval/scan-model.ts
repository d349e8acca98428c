/**
 * A scan or search with its outputs: the output directory checked before
 * any work (an earlier run's journal is never wiped by accident), the
 * sanitizer's run, then pvset.safetensors, report.json and report.html.
 * The CLI, the library's `scan`/`search` and `eval detection` all go
 * through here.
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type RunOptions, type RunResult, runScan } from '../sanitizer/run.js';
import { loadPvSet, type PvSet } from '../sanitizer/pvset.js';
import { SCAN_JOURNAL_FILE } from '../sanitizer/scan.js';
import { PVSET_FILE, REPORT_HTML_FILE, REPORT_JSON_FILE, type ScanOutputs, targetInfoOf, writeScanOutputs } from './scan-outputs.js';
import { withDirLock } from '../util/dir-lock.js';

/** Everything a scan writes into its output directory (and all that --force removes). */
export const SCAN_OUTPUT_FILES = [SCAN_JOURNAL_FILE, PVSET_FILE, REPORT_JSON_FILE, REPORT_HTML_FILE] as const;

export interface ScanModelOptions extends RunOptions {
  /** Start over in an output directory that holds an earlier run (its files are removed first). */
  force?: boolean;
}

export interface ScanModelResult extends RunResult {
  outputs: ScanOutputs;
}

/**
 * `<model-dir>.scan` beside the model directory, from its absolute path:
 * `scan .` inside a model directory gives `../<name>.scan`, not `..scan`
 * inside it.
 */
export function defaultOutDir(modelDir: string, command: 'scan' | 'search'): string {
  const abs = resolve(modelDir);
  return join(dirname(abs), `${basename(abs) || 'model'}.${command}`);
}

/**
 * Refuses an output directory that holds an earlier run unless the caller
 * resumes it or forces a fresh start (then only our files are removed).
 */
export function prepareOutDir(outDir: string, o: { resume?: boolean; force?: boolean }): void {
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new Error(`output path ${outDir} exists and is not a directory`);
  const present = SCAN_OUTPUT_FILES.filter((f) => existsSync(join(outDir, f)));
  if (o.resume) {
    if (o.force) throw new Error('--resume and --force contradict each other: --resume continues the run in the output directory, --force discards it');
    if (!present.includes(SCAN_JOURNAL_FILE)) throw new Error(`nothing to resume: ${join(outDir, SCAN_JOURNAL_FILE)} does not exist`);
    return;
  }
  if (present.length === 0) return;
  if (!o.force) {
    throw new Error(`${outDir} already holds a run (${present.join(', ')}); pass --resume to continue it, --force to start over, or another --out`);
  }
  for (const f of present) rmSync(join(outDir, f), { force: true });
}

export function scanModel(o: ScanModelOptions): ScanModelResult {
  return withDirLock(o.outDir, o.command, () => {
    prepareOutDir(o.outDir, o);
    const r = runScan(o);
    const outputs = writeScanOutputs(o.outDir, {
      command: o.command, driverResult: r.driver, data: r.data, target: targetInfoOf(r.target, o.modelDir), settings: r.settings, recovery: r.recovery,
    });
    return { ...r, outputs };
  });
}

/** Options of the library's scan/search: everything but the model directory is optional. */
export type ScanOptions = Partial<Omit<ScanModelOptions, 'command' | 'modelDir'>>;

/** Defaults shared by the CLI's help and the library (the CLI shows them; the library fills them in). */
export const SCAN_DEFAULTS = {
  mode: 'cls',
  sentenceCount: 2000,
  loops: { scan: 30, search: 1000 },
  patience: 200,
  seed: 0,
  parallel: 0,
} as const;

function withDefaults(command: 'scan' | 'search', modelDir: string, o: ScanOptions): ScanModelOptions {
  return {
    command, modelDir,
    outDir: o.outDir ?? defaultOutDir(modelDir, command),
    mode: o.mode ?? SCAN_DEFAULTS.mode,
    sentenceCount: o.sentenceCount ?? SCAN_DEFAULTS.sentenceCount,
    loops: o.loops ?? SCAN_DEFAULTS.loops[command],
    patience: o.patience ?? SCAN_DEFAULTS.patience,
    seed: o.seed ?? SCAN_DEFAULTS.seed,
    parallel: o.parallel ?? SCAN_DEFAULTS.parallel,
    resume: o.resume ?? false,
    // A library call prints nothing unless asked to.
    quiet: o.quiet ?? true,
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
  } as ScanModelOptions;
}

/**
 * Detection: fuzz loops until the first legitimate PV (verdict
 * "backdoored") or `loops` loops without one ("clean"). Writes
 * pvset.safetensors, report.json, report.html and journal.jsonl into
 * `outDir` (default `<model-dir>.scan` beside the model).
 */
export function scan(modelDir: string, options: ScanOptions = {}): ScanModelResult {
  return scanModel(withDefaults('scan', modelDir, options));
}

/** Search: collect every PV, stopping after `patience` loops without a new one (default out `<model-dir>.search`). */
export function search(modelDir: string, options: ScanOptions = {}): ScanModelResult {
  return scanModel(withDefaults('search', modelDir, options));
}

/**
 * A stored search's budget against the one asked for: equal (reuse it),
 * larger (resume the search), smaller (refused: loops already run cannot
 * be taken back).
 */
export function searchBudgetChange(set: PvSet, want: { loops: number; patience: number }, file: string): 'equal' | 'larger' {
  const had = { loops: Number(set.hyperParameters.loops), patience: Number(set.hyperParameters.patience) };
  if (!Number.isFinite(had.loops) || !Number.isFinite(had.patience)) return 'equal';
  if (want.loops < had.loops || want.patience < had.patience) {
    throw new Error(`${file} was searched with ${had.loops} loops, patience ${had.patience}; a smaller budget (${want.loops}, ${want.patience}) cannot undo loops already run: use another output directory`);
  }
  return want.loops === had.loops && want.patience === had.patience ? 'equal' : 'larger';
}

/**
 * Whether the directory holds a search that ran to its end: an interrupted
 * one writes the PVs found so far too, and its report says it stopped early.
 */
export function searchFinished(outDir: string): boolean {
  const file = join(outDir, REPORT_JSON_FILE);
  if (!existsSync(join(outDir, PVSET_FILE)) || !existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { interrupted?: unknown }).interrupted !== true;
  } catch {
    return false; // unreadable: resuming from the journal rewrites it
  }
}

export interface SearchOnceResult {
  /** The PV set; null when this call was interrupted before the search finished. */
  set: PvSet | null;
  pvsetFile: string;
  /** Whether a finished search was taken as it was (nothing ran). */
  reused: boolean;
  /** Loops the search holds, earlier sessions' included (0 when reused). */
  loops: number;
  /** Whether an earlier search in the directory was continued from its journal. */
  resumed: boolean;
}

/**
 * The one answer to "is this search finished?", for every evaluation that
 * searches a model once and reads its PVs many times (eval guard, eval
 * paper): a PV set whose report does not say `interrupted` and whose budget
 * equals the one asked for is reused; an interrupted search, or a larger
 * budget, continues from the journal; a smaller budget is refused.
 */
export function searchOnce(modelDir: string, o: ScanOptions & { outDir: string; loops: number; patience: number }, onStart?: (resumed: boolean) => void): SearchOnceResult {
  const pvsetFile = join(o.outDir, PVSET_FILE);
  const journal = existsSync(join(o.outDir, SCAN_JOURNAL_FILE));
  if (existsSync(pvsetFile) && journal) {
    const stored = loadPvSet(pvsetFile);
    const finished = searchFinished(o.outDir);
    if (searchBudgetChange(stored, o, pvsetFile) === 'equal' && finished) return { set: stored, pvsetFile, reused: true, loops: 0, resumed: false };
  } else if (existsSync(pvsetFile)) {
    // A PV set without its journal (copied in by hand) cannot be resumed: take it as it is.
    return { set: loadPvSet(pvsetFile), pvsetFile, reused: true, loops: 0, resumed: false };
  }
  onStart?.(journal);
  const r = search(modelDir, { ...o, resume: journal });
  const loops = r.driver.loops.length;
  if (r.driver.interrupted) return { set: null, pvsetFile, reused: false, loops, resumed: journal };
  return { set: loadPvSet(r.outputs.pvset), pvsetFile, reused: false, loops, resumed: journal };
}
