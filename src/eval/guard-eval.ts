/**
 * `eval guard` (issue 14; the paper's Table 3 right half and Table 6): the
 * guard in front of the prompts `eval victims` trains, with the PVs that
 * `search` finds on the backdoored backbone, beside the ONION baseline on
 * the same inputs.
 *
 *   DIR/victims/          the eval victims run (its journal is reused: prompts are trained once)
 *   DIR/search-<mode>/    search on the backdoored backbone in the mode the method is monitored in
 *   DIR/guard.jsonl       one record per (task, case): case "search" (the PVs search found),
 *                         "search+attacker" (those plus the attack's ground-truth PVs, the paper's
 *                         best case; only with --pv-source search+attacker) and "onion"
 *   DIR/guard.json        every cell, with the victims' CACC/BACC/ASR and the settings
 *   DIR/guard.html        the table and the match-rate histograms (clean vs triggered, η drawn)
 *
 * Cases are never mixed: a "search" figure uses only what search found.
 * A rerun skips journaled cells; a search cut short resumes from its journal,
 * and a larger search budget resumes a finished one (its guard cases are then
 * measured again with the new PV set).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest, MANIFEST_FILE } from '../attacks/manifest.js';
import { writeJsonAtomic, writeTextFileAtomic } from '../formats/file-io.js';
import { progress } from '../util/progress.js';
import { Guard, GUARD_DEFAULTS, type OnUnpurified, requiredMode } from '../guard/guard.js';
import { loadModel } from '../models/model.js';
import { loadPrompt, loadPromptTask, type PromptInput, type PromptModel } from '../prompt/index.js';
import { appendRecord, readRecords } from '../sanitizer/journal.js';
import { SignMonitor } from '../sanitizer/monitor.js';
import { attackSuccess, type Classify } from './asr.js';
import { type GuardFigures, measureGuard, promptTriggerWarnings } from './guarded.js';
import { guardHtml } from './guard-html.js';
import { onionPurify } from './onion.js';
import { searchOnce } from './scan-model.js';
import { classifierOf, evaluateVictims, type VictimCell, type VictimsOptions } from './victims.js';
import { withDirLock } from '../util/dir-lock.js';

export const PV_SOURCES = ['search', 'search+attacker'] as const;
export type PvSource = (typeof PV_SOURCES)[number];
export const GUARD_JOURNAL = 'guard.jsonl';
export const GUARD_REPORT = 'guard.json';
export const GUARD_HTML = 'guard.html';
export const GUARD_EVAL_FORMAT = 'lmsanitator-guard-eval';

/**
 * ONION costs O(n²) masked rows per input (n words: ≈ 460 rows of ≈ 22
 * tokens for an SST-2 sentence), and the triggered copies of every
 * correctly classified input are purified too, so it runs on the first
 * `onionMaxTest` test inputs only (50 by default: about a quarter of an
 * hour on bert-mini on 2 cores).
 *
 * The search budget (80 loops, patience 40; ≈ 16 min on bert-mini) was
 * 40 / 15 until session 8: on the previous bert-mini build that stopped a
 * NeuBA search by patience at loop 17 with 2 of its 6 PVs, while loops
 * 40–54 found all six, and a POR search's 37 loops missed one PV that a
 * second seed range found. The paper runs 1,000 loops; `--search-loops` /
 * `--search-patience` raise it, and a larger budget resumes a finished search.
 */
export const GUARD_EVAL_DEFAULTS = { searchLoops: 80, searchPatience: 40, onionBar: 0, onionMaxWords: 64, onionMaxTest: 50 } as const;

export interface GuardEvalOptions extends Omit<VictimsOptions, 'outDir' | 'progress'> {
  outDir: string;
  pvSource: PvSource;
  threshold?: number;
  maxWindow?: number;
  onUnpurified?: OnUnpurified;
  /** Search budget: at most this many fuzz loops, stopping after `searchPatience` loops without a new PV. */
  searchLoops?: number;
  searchPatience?: number;
  /** ONION's suspicion-score bar (remove a word when deleting it lowers the pseudo-perplexity by more). */
  onionBar?: number;
  /** ONION on at most this many test inputs (the first of the fixed draw). */
  onionMaxTest?: number;
}

export type GuardCase = 'search' | 'search+attacker' | 'onion';

export interface OnionFigures {
  accuracy_onion: number;
  asr_onion: number;
  weighted_asr_onion: number;
  /** Share of triggered inputs whose ONION output still holds the trigger's words. */
  trigger_kept: number;
  words_removed_per_input: number;
  bar: number;
  test_inputs: number;
}

export interface GuardRecord {
  task: string;
  case: GuardCase;
  pvs: number | null;
  /** sha256 of the monitored PVs (float32 bytes, in order); null for ONION. */
  pvs_sha256?: string | null;
  figures: GuardFigures | null;
  onion: OnionFigures | null;
  seconds: number;
  finished: string;
}

export interface GuardCell {
  task: string;
  cacc: number;
  bacc: number;
  asr: number | null;
  weighted_asr: number | null;
  /** The backdoored-backbone prompt's targetability (asr.ts; null where not measured, absent in older guard.json). */
  targetability?: number | null;
  cases: Partial<Record<GuardCase, GuardRecord>>;
}

export interface GuardEvalReport {
  format: typeof GUARD_EVAL_FORMAT;
  version: 1;
  method: string;
  clean: { dir: string; hash: string };
  backdoored: { dir: string; hash: string };
  pv_source: PvSource;
  threshold: number;
  max_window: number;
  on_unpurified: OnUnpurified;
  search: { dir: string; mode: string; pvs: number; loops: number; verdict: string };
  attacker_pvs: number | null;
  triggers: string[];
  cells: GuardCell[];
  created: string;
}

/** Identifies a monitored PV list, so a journaled guard figure is reused only for the PVs it was measured with. */
export function pvsFingerprint(pvs: readonly Float32Array[]): string {
  const h = createHash('sha256');
  for (const v of pvs) h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return h.digest('hex');
}

function isGuardRecord(v: unknown): v is GuardRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.task === 'string' && ['search', 'search+attacker', 'onion'].includes(r.case as string) && typeof r.seconds === 'number';
}

/** ONION on the same test inputs and trigger positions as the guard, classified by the same prompt. */
function measureOnion(model: PromptModel, data: ReturnType<typeof loadPromptTask>, triggers: readonly string[], seed: number, bar: number, maxTest: number, batch: number, onSet: (done: number, total: number) => void): OnionFigures {
  if (data.kind !== 'classification') throw new Error(`${data.task}: ONION is measured on classification tasks`);
  const test = data.test.slice(0, maxTest).map((e) => ({ text: e.text, ...(e.textB !== undefined && { text_pair: e.textB }), label: e.label! }));
  const classify = classifierOf(model, batch);
  let calls = 0;
  let triggered = 0;
  let kept = 0;
  let removed = 0;
  let purifiedInputs = 0;
  const onionClassify: Classify = (xs) => {
    const purified = onionPurify(model.backbone, xs, { bar, maxWords: GUARD_EVAL_DEFAULTS.onionMaxWords, batchSize: 64 });
    removed += purified.reduce((s, p) => s + p.removed.length, 0);
    purifiedInputs += xs.length;
    if (calls > 0) {
      const words = triggers[calls - 1]!.split(' ');
      triggered += xs.length;
      kept += purified.filter((p) => words.some((w) => [p.text, p.text_pair ?? ''].some((t) => t.split(/\s+/).includes(w)))).length;
    }
    calls++;
    const out = classify(purified.map((p): PromptInput => (p.text_pair === undefined ? { text: p.text } : { text: p.text, text_pair: p.text_pair })));
    onSet(calls, triggers.length + 1);
    return out;
  };
  const asr = attackSuccess(test, onionClassify, triggers, seed, model.labelNames.length);
  return {
    accuracy_onion: asr.accuracy, asr_onion: asr.asr, weighted_asr_onion: asr.weighted_asr,
    trigger_kept: triggered ? kept / triggered : 0, words_removed_per_input: purifiedInputs ? removed / purifiedInputs : 0, bar, test_inputs: test.length,
  };
}

export interface GuardEvalResult extends GuardEvalReport {
  interrupted: boolean;
  reportFile: string | null;
  htmlFile: string | null;
}

/** Holds the output directory's lock for the whole run (one writer per journal). */
export function evaluateGuard(o: Parameters<typeof evaluateGuardLocked>[0]): ReturnType<typeof evaluateGuardLocked> {
  return withDirLock(o.outDir, 'guard evaluation', () => evaluateGuardLocked(o));
}

function evaluateGuardLocked(o: GuardEvalOptions): GuardEvalResult {
  const log = o.log ?? (() => {});
  const stop = o.shouldStop ?? (() => false);
  const threshold = o.threshold ?? GUARD_DEFAULTS.threshold;
  const maxWindow = o.maxWindow ?? GUARD_DEFAULTS.maxWindow;
  const onUnpurified = o.onUnpurified ?? GUARD_DEFAULTS.onUnpurified;
  if (!(PV_SOURCES as readonly string[]).includes(o.pvSource)) throw new Error(`--pv-source must be ${PV_SOURCES.join(' or ')}`);
  if (o.pvSource === 'search+attacker' && !existsSync(join(o.backdooredDir, MANIFEST_FILE))) {
    throw new Error(`${o.backdooredDir}: --pv-source search+attacker needs the attack's ${MANIFEST_FILE} (its ground-truth PVs); none is there`);
  }
  mkdirSync(o.outDir, { recursive: true });

  // 1. The victims (prompts on both backbones; CACC, BACC, ASR), journaled in DIR/victims.
  log('victims: prompt-tuning (journal in victims/)');
  const victims = evaluateVictims({ ...o, outDir: join(o.outDir, 'victims') });
  if (victims.interrupted) return interruptedResult();

  // 2. The PVs search finds on the backdoored backbone, in the mode the method is monitored in.
  const backbone = loadModel(o.backdooredDir);
  const probe = loadPrompt(victims.cells[0]!.prompts.backdoored, backbone).model;
  const mode = requiredMode(probe);
  const searchDir = join(o.outDir, `search-${mode}`);
  const budget = { loops: o.searchLoops ?? GUARD_EVAL_DEFAULTS.searchLoops, patience: o.searchPatience ?? GUARD_EVAL_DEFAULTS.searchPatience };
  const searched = searchOnce(o.backdooredDir, { outDir: searchDir, mode, ...budget, quiet: o.quiet, shouldStop: stop }, (resumed) => {
    log(`search: ${mode} mode on ${o.backdooredDir} (at most ${budget.loops} loops, patience ${budget.patience}; journal in ${searchDir}${resumed ? ', resumed' : ''})`);
  });
  if (searched.set === null || stop()) return interruptedResult();
  const found = searched.set;
  const searchInfo: GuardEvalReport['search'] = {
    dir: searchDir, mode, pvs: found.pvs.length, loops: searched.reused ? -1 : searched.loops, verdict: found.pvs.length ? 'backdoored' : 'clean',
  };
  log(`search: ${found.pvs.length} PV${found.pvs.length === 1 ? '' : 's'} found`);
  const attackerPvs = o.pvSource === 'search+attacker' ? readManifest(o.backdooredDir).pvs : null;
  const H = backbone.config.hiddenSize;
  const caseSets: [GuardCase, Float32Array[]][] = [['search', found.pvs]];
  if (attackerPvs) caseSets.push(['search+attacker', [...found.pvs, ...attackerPvs]]);
  const monitors = caseSets.map(([c, pvs]): [GuardCase, SignMonitor, string] => [c, new SignMonitor(pvs, H, threshold), pvsFingerprint(pvs)]);

  // 3. Each task: the guard per case, and ONION, on the backdoored-backbone prompt.
  const journal = join(o.outDir, GUARD_JOURNAL);
  const done = readRecords(journal, isGuardRecord, (r) => `${r.task}:${r.case}`, 'a guard record');
  // A guard record holds for the PVs it was measured with: after a longer search its case is measured again.
  for (const [c, , fingerprint] of monitors) {
    for (const [key, r] of done) if (r.case === c && r.pvs_sha256 !== fingerprint) done.delete(key);
  }
  const batch = Math.max(o.batchSize ?? 32, 32);
  let interrupted = false;
  for (const cell of victims.cells) {
    if (cell.kind !== 'classification') continue;
    const model = loadPrompt(cell.prompts.backdoored, backbone).model;
    const data = loadPromptTask(cell.task, { dataDir: o.dataDir, maxTrain: o.maxTrain, maxDev: o.maxDev, maxTest: o.maxTest, seed: o.seed });
    const unguarded = classifierOf(model, batch);
    const todo: GuardCase[] = [...monitors.map(([c]) => c), 'onion'];
    for (const c of todo) {
      if (done.has(`${cell.task}:${c}`)) continue;
      if (stop()) {
        interrupted = true;
        break;
      }
      const t0 = performance.now();
      log(`${cell.task}: ${c === 'onion' ? 'ONION' : `guard with the ${c} PVs`}`);
      // Input sets: the clean test inputs, then the triggered copies per trigger.
      const meter = progress(`${cell.task} ${c}`, victims.triggers.length + 1, { quiet: o.quiet, unit: 'input sets' });
      const onSet = (done: number) => meter.update(done);
      let rec: GuardRecord;
      if (c === 'onion') {
        const onion = measureOnion(model, data, victims.triggers, o.seed, o.onionBar ?? GUARD_EVAL_DEFAULTS.onionBar, o.onionMaxTest ?? GUARD_EVAL_DEFAULTS.onionMaxTest, batch, onSet);
        rec = { task: cell.task, case: c, pvs: null, pvs_sha256: null, figures: null, onion, seconds: 0, finished: '' };
      } else {
        const [, monitor, fingerprint] = monitors.find(([k]) => k === c)!;
        const guard = new Guard(model, monitor, { threshold, maxWindow, onUnpurified, batchSize: batch });
        rec = { task: cell.task, case: c, pvs: monitor.count, pvs_sha256: fingerprint, figures: measureGuard(guard, data, victims.triggers, o.seed, unguarded, onSet), onion: null, seconds: 0, finished: '' };
      }
      meter.stop();
      rec.seconds = Math.round(performance.now() - t0) / 1000;
      rec.finished = new Date().toISOString();
      appendRecord(journal, rec);
      done.set(`${cell.task}:${c}`, rec);
    }
    if (interrupted) break;
  }
  if (interrupted) return interruptedResult();

  const cells: GuardCell[] = victims.cells.filter((c) => c.kind === 'classification').map((c: VictimCell) => ({
    task: c.task, cacc: c.cacc, bacc: c.bacc, asr: c.asr, weighted_asr: c.weighted_asr, targetability: c.targetability,
    cases: Object.fromEntries((['search', 'search+attacker', 'onion'] as const).flatMap((k) => (done.has(`${c.task}:${k}`) ? [[k, done.get(`${c.task}:${k}`)!]] : []))),
  }));
  const report: GuardEvalReport = {
    format: GUARD_EVAL_FORMAT, version: 1, method: o.method, clean: victims.clean, backdoored: victims.backdoored, pv_source: o.pvSource,
    threshold, max_window: maxWindow, on_unpurified: onUnpurified, search: searchInfo, attacker_pvs: attackerPvs?.length ?? null,
    triggers: victims.triggers, cells, created: new Date().toISOString(),
  };
  const reportFile = join(o.outDir, GUARD_REPORT);
  const htmlFile = join(o.outDir, GUARD_HTML);
  writeJsonAtomic(reportFile, report);
  writeTextFileAtomic(htmlFile, guardHtml(report));
  return { ...report, interrupted: false, reportFile, htmlFile };

  function interruptedResult(): GuardEvalResult {
    return {
      format: GUARD_EVAL_FORMAT, version: 1, method: o.method, clean: { dir: o.cleanDir, hash: '' }, backdoored: { dir: o.backdooredDir, hash: '' },
      pv_source: o.pvSource, threshold, max_window: maxWindow, on_unpurified: onUnpurified, search: { dir: '', mode: '', pvs: 0, loops: 0, verdict: '' },
      attacker_pvs: null, triggers: [], cells: [], created: new Date().toISOString(), interrupted: true, reportFile: null, htmlFile: null,
    };
  }
}

/** The table `eval guard` prints: per task and case, in percent. */
export function formatGuardTable(r: GuardEvalReport): string {
  const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);
  const head = ['task', 'case', 'PVs', 'CACC', 'BACC', 'ASR', 'acc guarded', 'ASR guarded', 'FRR', 'FAR', 'FAR (worked)', 'purified', 'rejected'];
  const rows: string[][] = [];
  for (const c of r.cells) {
    for (const k of ['search', 'search+attacker'] as const) {
      const g = c.cases[k]?.figures;
      if (!g) continue;
      rows.push([c.task, k, String(c.cases[k]!.pvs), pct(c.cacc), pct(c.bacc), pct(c.asr), pct(g.accuracy_guarded), pct(g.asr_guarded), pct(g.frr), pct(g.far), pct(g.far_effective), pct(g.purified), pct(g.rejected)]);
    }
    const on = c.cases.onion?.onion;
    if (on) rows.push([c.task, 'ONION', '-', pct(c.cacc), pct(c.bacc), pct(c.asr), pct(on.accuracy_onion), pct(on.asr_onion), '-', '-', '-', '-', '-']);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cols: string[]) => cols.map((x, i) => (i < 2 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  return [
    `${r.method} guard: backdoored ${r.backdoored.dir} (sha256 ${r.backdoored.hash.slice(0, 12)}); η ${r.threshold}, windows ≤ ${r.max_window}, unpurified → ${r.on_unpurified}`,
    `search (${r.search.mode} mode): ${r.search.pvs} PVs${r.attacker_pvs !== null ? `; attacker PVs: ${r.attacker_pvs}` : ''}; triggers: ${r.triggers.join(', ')}`,
    '', line(head), ...rows.map(line), '',
    'acc guarded / ASR guarded: through the guard (ONION rows: through ONION); FRR: clean inputs flagged; FAR: triggered inputs not flagged; FAR (worked): among the triggered inputs the trigger flipped without the guard',
    ...promptTriggerWarnings(r),
  ].join('\n');
}
