/**
 * One cell of `eval paper` at a time, through the evaluators that already
 * exist (their own journals make a cell cut short resume inside itself):
 * buildZooModel, runAttack, evaluateVictims, search, evaluateGuard,
 * evaluateDetection, scanModel. Each returns what the journal records:
 * the result, the configuration it ran with, its seeds and the sha256 of
 * every model it read.
 *
 * DIR layout (relative to --out):
 *   models/<model>-<attack>/        attacked zoo models (attack.json)
 *   guard/<model>-<attack>-s<seed>/ eval guard directories: victims/ (eval victims), search-<mode>/, guard.jsonl;
 *                                   the POR one also inversion-cls/ (Table 5's baseline, inversion.jsonl)
 *   detection/<model>-<column>/     eval detection directories (held-out zoo, its journal)
 *   adaptive/<model>/<setting>-<i>/ model/ (the attack), scan/, guard/ (full budget, loss sweeps)
 *   ablation/<model>-por-<path-loss|adaptive-lr>-off/  the POR search with one mechanism off
 */
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runAttack } from '../../attacks/attack.js';
import { hasCheckpoint } from '../../attacks/checkpoint.js';
import { MANIFEST_FILE, readManifest } from '../../attacks/manifest.js';
import type { AttackOptions } from '../../attacks/settings.js';
import { loadModel } from '../../models/model.js';
import { PROMPT_JSON } from '../../prompt/index.js';
import { decodeF32, Journal } from '../../sanitizer/journal.js';
import { scanTargetOf } from '../../sanitizer/model-target.js';
import { MATCH_THRESHOLD } from '../../sanitizer/monitor.js';
import { wholeWordTokens } from '../../sanitizer/recover.js';
import { SCAN_JOURNAL_FILE } from '../../sanitizer/scan.js';
import { Rng } from '../../text/random.js';
import { zooEntry } from '../../zoo/configs.js';
import { buildZooModel } from '../../zoo/zoo.js';
import { evaluateDetection, TRIGGER_WORDS } from '../detection.js';
import { evaluateGuard, type GuardRecord } from '../guard-eval.js';
import { histogram } from '../guard-html.js';
import { evaluateInversion } from '../inversion.js';
import { pvRecall } from '../recall.js';
import { scanModel, searchFinished, searchOnce } from '../scan-model.js';
import { PVSET_FILE } from '../scan-outputs.js';
import { evaluateVictims, VICTIMS_JOURNAL, readVictimsJournal, type VictimsOptions } from '../victims.js';
import { DETECTION_COLUMNS, TAB5_LOOPS, type PaperBudget } from './budget.js';
import { type CellSpec, guardDirName, INVERSION_BASELINE, METHOD_OF, type PaperAttack, SEARCH_MODE_OF } from './plan.js';

/** Stopped by Ctrl-C / SIGTERM: the cell is not journaled; its evaluator's own journal keeps its progress. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

export interface ModelRef {
  dir: string;
  sha256: string;
}

/** What a finished cell journals. */
export interface CellOutcome {
  result: Record<string, unknown>;
  config: Record<string, unknown>;
  seeds: Record<string, number>;
  models: Record<string, ModelRef>;
}

export interface CellContext {
  outDir: string;
  dataDir?: string;
  budget: PaperBudget;
  quiet: boolean;
  shouldStop: () => boolean;
  log: (line: string) => void;
  /** The journaled result of a finished dependency. */
  dep: (id: string) => CellOutcome;
}

/** An injected PV counts as found within this MSE of a mined one, or past η in sign agreement (eval recall's defaults). */
const RECALL_DISTANCE_TH = 0.3;

/** Rounds away float noise in journaled figures (6 significant digits). */
const r6 = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(6)) : x);

function hashOf(dir: string): string {
  return loadModel(dir).hash;
}

export function guardDir(ctx: Pick<CellContext, 'outDir'>, model: string, attack: string, seed: number): string {
  return join(ctx.outDir, 'guard', guardDirName(model, attack, seed));
}

export function attackDir(ctx: Pick<CellContext, 'outDir'>, model: string, attack: string): string {
  return join(ctx.outDir, 'models', `${model}-${attack}`);
}

/** runAttack unless the directory already holds the attacked model; continues from its checkpoint. */
async function attackOnce(o: AttackOptions, ctx: CellContext): Promise<void> {
  if (existsSync(join(o.outDir, MANIFEST_FILE))) return;
  const r = await runAttack({ ...o, resume: hasCheckpoint(o.outDir) }, { shouldStop: ctx.shouldStop });
  if (r.status === 'interrupted') throw new Interrupted();
}

function effectSummary(dir: string) {
  const { manifest } = readManifest(dir);
  const e = manifest.effect;
  return {
    method: manifest.method, target_mode: manifest.target_mode, triggers: manifest.triggers.map((t) => t.text), pvs: manifest.pvs.count,
    triggered_sign_agreement_min: e?.triggered_sign_agreement_min ?? null, clean_sign_agreement_max: e?.clean_sign_agreement_max ?? null,
    utility: e?.utility ?? null, training_seconds: manifest.training?.seconds ?? null, hyperparameters: manifest.hyperparameters,
  };
}

function victimsBudget(b: PaperBudget) {
  const v = b.victims;
  return { epochs: v.epochs, maxTrain: v.maxTrain, maxDev: v.maxDev, maxTest: v.maxTest, maxLen: v.maxLen, batchSize: v.batchSize, ...(v.prefixLen ? { prefixLen: v.prefixLen } : {}) };
}

async function base(cell: CellSpec, ctx: CellContext): Promise<CellOutcome> {
  const model = cell.model!;
  const r = buildZooModel(model, { quiet: ctx.quiet, shouldStop: ctx.shouldStop });
  if (r.interrupted) throw new Interrupted();
  const e = zooEntry(model);
  return {
    result: { dir: r.dir, built_now: r.built, family: e.family, layers: e.layers, hidden: e.hidden, pretrain_steps: e.train.steps },
    config: { zoo: model }, seeds: { pretrain: e.train.seed }, models: { [model]: { dir: r.dir, sha256: hashOf(r.dir) } },
  };
}

async function attack(cell: CellSpec, ctx: CellContext): Promise<CellOutcome> {
  const model = cell.model!;
  const a = cell.params.attack!;
  const baseRef = ctx.dep(`base/${model}`).models[model]!;
  const dir = attackDir(ctx, model, a);
  const config = { method: a, ...ctx.budget.attack };
  await attackOnce({ modelDir: baseRef.dir, outDir: dir, method: a, seed: ctx.budget.attackSeed, ...ctx.budget.attack }, ctx);
  return {
    result: { dir, ...effectSummary(dir) }, config, seeds: { attack: ctx.budget.attackSeed },
    models: { [model]: baseRef, [`${model}-${a}`]: { dir, sha256: hashOf(dir) } },
  };
}

/** The clean-backbone prompt of a task is the same for NeuBA and POR (same backbone, method, budget, seed): train it once. */
function shareCleanPrompt(ctx: CellContext, model: string, a: PaperAttack, task: string, seed: number): string | null {
  if (a === 'btop') return null;
  const other = a === 'por' ? 'neuba' : 'por';
  const rel = join('victims', 'prompts', `clean-${task}`);
  const from = join(guardDir(ctx, model, other, seed), rel);
  const to = join(guardDir(ctx, model, a, seed), rel);
  if (!existsSync(join(from, PROMPT_JSON)) || existsSync(to)) return null;
  if (readVictimsJournal(join(guardDir(ctx, model, a, seed), 'victims', VICTIMS_JOURNAL)).has(`clean:${task}`)) return null;
  mkdirSync(join(to, '..'), { recursive: true });
  cpSync(from, to, { recursive: true });
  return from;
}

function victimsOptions(cell: CellSpec, ctx: CellContext): VictimsOptions & { base: ModelRef; backdoored: ModelRef } {
  const model = cell.model!;
  const { attack: a, task, seed } = cell.params as Required<Pick<CellSpec['params'], 'attack' | 'task' | 'seed'>>;
  const b = ctx.dep(`base/${model}`).models[model]!;
  const bd = ctx.dep(`attack/${model}/${a}`).models[`${model}-${a}`]!;
  return {
    base: b, backdoored: bd,
    cleanDir: b.dir, backdooredDir: bd.dir, method: METHOD_OF[a], tasks: [task], outDir: join(guardDir(ctx, model, a, seed), 'victims'), dataDir: ctx.dataDir,
    ...victimsBudget(ctx.budget), seed, quiet: ctx.quiet, shouldStop: ctx.shouldStop, log: ctx.log,
  };
}

async function victims(cell: CellSpec, ctx: CellContext): Promise<CellOutcome> {
  const model = cell.model!;
  const { attack: a, task, seed } = cell.params as Required<Pick<CellSpec['params'], 'attack' | 'task' | 'seed'>>;
  const { base: b, backdoored: bd, ...o } = victimsOptions(cell, ctx);
  const shared = shareCleanPrompt(ctx, model, a, task, seed);
  if (shared) ctx.log(`  clean ${task} prompt shared from ${shared}`);
  const r = evaluateVictims(o);
  if (r.interrupted) throw new Interrupted();
  const c = r.cells.find((x) => x.task === task);
  if (!c) throw new Error(`eval victims returned no cell for ${task}`);
  return {
    result: { ...c, triggers: r.triggers, dir: o.outDir, ...(shared ? { clean_prompt_shared_from: shared } : {}) },
    config: { method: o.method, task, budget: r.settings.budget, data_dir: r.settings.data_dir },
    seeds: { prompt: seed, trigger_positions: seed }, models: { [model]: b, [`${model}-${a}`]: bd },
  };
}

/** A guard record as paper.json keeps it: the match rates as Fig. 14's histogram counts. */
function slimGuardRecord(rec: GuardRecord | undefined) {
  if (!rec) return null;
  if (!rec.figures) return rec;
  const { match_rates, ...figures } = rec.figures;
  return { ...rec, figures: { ...figures, match_rate_histograms: { bins: 50, clean: histogram(match_rates.clean), triggered: histogram(match_rates.triggered) } } };
}

/** Runs (or resumes) a search unless a finished one with this budget is there (scan-model's searchOnce decides). */
function runSearchOnce(modelDir: string, dir: string, mode: 'cls' | 'mask', ctx: CellContext, extra: { lrBoost?: number; pathCoeff?: number } = {}): void {
  const { loops, patience } = ctx.budget.search;
  const r = searchOnce(modelDir, { outDir: dir, mode, loops, patience, quiet: ctx.quiet, shouldStop: ctx.shouldStop, ...extra }, () => {
    ctx.log(`  search (${mode} mode, at most ${loops} loops${extra.lrBoost !== undefined ? `, lr boost ${extra.lrBoost}` : ''}${extra.pathCoeff !== undefined ? `, path loss weight ${extra.pathCoeff}` : ''}) in ${dir}`);
  });
  if (r.set === null) throw new Interrupted();
}

/** A search journal loop by loop: whether it crossed, PVs kept so far, planted PVs found so far (recall's rule). */
function searchCurve(dir: string, injected: Float32Array[]) {
  const { entries } = Journal.read(join(dir, SCAN_JOURNAL_FILE));
  const loopsDone = entries.flatMap((e) => (e.type === 'loop' ? [e] : []));
  const pvBySeed = new Map<number, Float32Array[]>();
  for (const e of entries) {
    if (e.type !== 'pv') continue;
    pvBySeed.set(e.seed, [...(pvBySeed.get(e.seed) ?? []), decodeF32(e.vector, `${dir} PV ${e.index}`)]);
  }
  const mined: Float32Array[] = [];
  const curve = loopsDone.map((l, k) => {
    mined.push(...(pvBySeed.get(l.seed) ?? []));
    const rc = pvRecall(injected, mined, RECALL_DISTANCE_TH);
    return { loop: k + 1, seed: l.seed, crossed: l.crossed, kept: l.kept, pvs: mined.length, found: Math.round(rc.recall * injected.length), recall: r6(rc.recall) };
  });
  return { loopsDone, pvBySeed, curve };
}

async function searchCell(cell: CellSpec, ctx: CellContext): Promise<CellOutcome> {
  const model = cell.model!;
  const a = cell.params.attack!;
  const bd = ctx.dep(`attack/${model}/${a}`).models[`${model}-${a}`]!;
  const mode = SEARCH_MODE_OF[a];
  const dir = join(guardDir(ctx, model, a, ctx.budget.seeds[0]!), `search-${mode}`);
  const { loops, patience } = ctx.budget.search;
  runSearchOnce(bd.dir, dir, mode, ctx);
  const injected = readManifest(bd.dir).pvs;
  const { loopsDone, pvBySeed, curve } = searchCurve(dir, injected);
  const first = loopsDone.slice(0, TAB5_LOOPS);
  const firstPvs = first.flatMap((l) => pvBySeed.get(l.seed) ?? []);
  const rc20 = pvRecall(injected, firstPvs, RECALL_DISTANCE_TH);
  return {
    result: {
      dir, mode, loops: loopsDone.length, pvs: curve.length ? curve[curve.length - 1]!.pvs : 0, injected: injected.length, recall: curve.length ? curve[curve.length - 1]!.recall : 0, curve,
      tab5: {
        loops: first.length, convergences: first.filter((l) => l.crossed).length,
        true_pvs: Math.round(rc20.recall * injected.length), kept: firstPvs.length,
      },
      seconds_in_loops: r6(loopsDone.reduce((s, l) => s + l.seconds, 0)),
    },
    config: { command: 'search', mode, loops, patience, recall_distance_th: RECALL_DISTANCE_TH, recall_eta: MATCH_THRESHOLD },
    seeds: { first_loop: 0 }, models: { [`${model}-${a}`]: bd },
  };
}

/** Unique planted PVs reached, the first loop that had reached 3, and converging loops, over the first `n` loops. */
function ablationFigures(curve: ReturnType<typeof searchCurve>['curve'], n: number) {
  const part = curve.slice(0, n);
  const third = part.find((c) => c.found >= 3);
  return { loops: part.length, unique_pvs: part.length ? part[part.length - 1]!.found : 0, loops_to_3: third ? third.loop : null, convergences: part.filter((c) => c.crossed).length, kept: part.length ? part[part.length - 1]!.pvs : 0 };
}

/**
 * How many of the search's first `n` loops ran any step at the boosted rate:
 * the boost ends before the first step when the first prompt gradient already
 * exceeds converGrad, and then switching it off cannot change the loop.
 * Reads the search journal once; the figures are asked for over any n.
 */
function boostReach(searchDir: string) {
  const { header, entries } = Journal.read(join(searchDir, SCAN_JOURNAL_FILE));
  const converGrad = Number(header.settings.converGrad);
  const all = entries.flatMap((e) => (e.type === 'loop' ? [e.initialMaxGrad] : []));
  return (n: number) => {
    const grads = all.slice(0, n);
    return {
      lr_boost: Number(header.settings.lrBoost), conver_grad: converGrad, loops: grads.length, boosted_loops: grads.filter((g) => !(g > converGrad)).length,
      first_gradient_min: grads.length ? r6(Math.min(...grads)) : null, first_gradient_max: grads.length ? r6(Math.max(...grads)) : null,
    };
  };
}

/** Section 5.5: the POR search with the path loss or the adaptive rate off, against the search cell over the same number of loops. */
async function ablationCell(cell: CellSpec, ctx: CellContext): Promise<CellOutcome> {
  const model = cell.model!;
  const which = cell.params.ablation!;
  const bd = ctx.dep(`attack/${model}/por`).models[`${model}-por`]!;
  const reference = ctx.dep(`search/${model}/por`).result as { dir: string; curve: ReturnType<typeof searchCurve>['curve'] };
  const switchOff = which === 'path-loss' ? { pathCoeff: 0 } : { lrBoost: 1 };
  const config = { command: 'search', mode: 'cls', ...ctx.budget.search, ...switchOff, recall_distance_th: RECALL_DISTANCE_TH, recall_eta: MATCH_THRESHOLD };
  const outcome = (result: Record<string, unknown>): CellOutcome => ({
    result: { ablation: which, reference_dir: reference.dir, ...result }, config, seeds: { first_loop: 0 }, models: { [`${model}-por`]: bd },
  });
  const on = reference.curve.length;
  const reach = which === 'adaptive-lr' ? boostReach(reference.dir) : null;
  if (reach) {
    const boost = reach(on);
    // The boost ends before a loop's first step when its first gradient already exceeds converGrad;
    // if that held in every loop, the run without it would repeat the search step for step (same seeds).
    if (on > 0 && boost.boosted_loops === 0) {
      const why = `the ×${boost.lr_boost} start never ran a step in the search's ${on} loops (first prompt gradients ${boost.first_gradient_min}…${boost.first_gradient_max} > converGrad ${boost.conver_grad}), so the run without it would repeat the search exactly`;
      ctx.log(`  not run: ${why}`);
      const figures = ablationFigures(reference.curve, on);
      return outcome({
        dir: null, not_run: why,
        compared_loops: on, off: figures, on: figures, off_all_loops: figures, on_all_loops: figures, boost, seconds_in_loops: 0,
      });
    }
  }
  const dir = join(ctx.outDir, 'ablation', `${model}-por-${which}-off`);
  runSearchOnce(bd.dir, dir, 'cls', ctx, switchOff);
  const { curve, loopsDone } = searchCurve(dir, readManifest(bd.dir).pvs);
  // Patience may stop either run first: both are compared over the loops both ran.
  const n = Math.min(curve.length, on);
  return outcome({
    dir, compared_loops: n,
    off: ablationFigures(curve, n), on: ablationFigures(reference.curve, n),
    off_all_loops: ablationFigures(curve, curve.length), on_all_loops: ablationFigures(reference.curve, on),
    ...(reach ? { boost: reach(n) } : {}),
    seconds_in_loops: r6(loopsDone.reduce((s, l) => s + l.seconds, 0)),
  });
}

/** Table 5's Piccolo columns: the trigger-inversion baseline on the search's POR copy, over the search's sentences and collapse rule. */
async function inversion(cell: CellSpec, ctx: CellContext): Promise<CellOutcome> {
  const model = cell.model!;
  const a = cell.params.attack!;
  const bd = ctx.dep(`attack/${model}/${a}`).models[`${model}-${a}`]!;
  const mode = SEARCH_MODE_OF[a];
  const dir = join(guardDir(ctx, model, a, ctx.budget.seeds[0]!), `inversion-${mode}`);
  const { runs } = ctx.budget.inversion;
  const injected = readManifest(bd.dir).pvs;
  ctx.log(`  trigger-inversion baseline (${mode} mode, ${runs} runs) in ${dir}`);
  const r = evaluateInversion({
    modelDir: bd.dir, outDir: dir, mode, runs, injected, recallDistanceTh: RECALL_DISTANCE_TH, quiet: ctx.quiet, shouldStop: ctx.shouldStop,
    log: (l) => ctx.log(`  ${l}`),
  });
  if (r.interrupted) throw new Interrupted();
  return {
    result: {
      dir, mode, baseline: INVERSION_BASELINE, runs: r.runs.length, injected: injected.length, distance_th: r.distanceTh, div_th: r6(r.divTh),
      tab5: {
        runs: r.runs.length, convergences: r.convergences, collapses: r.collapses, true_pvs: r.trueRuns, distinct_true_pvs: r.distinctTruePvs,
        hard_converged: r.hardConverged, hard_true: r.hardTrue,
      },
      per_run: r.runs.map((x) => ({
        seed: x.seed, crossed: x.crossed, collapsed: x.collapsed, converged: x.converged, matches: x.matches,
        final_distance: r6(x.epochs.at(-1)?.distance ?? NaN), final_diversity: x.final_diversity === null ? null : r6(x.final_diversity),
        words: x.words.map((w) => w[0]![0]),
        hard: { distance: r6(x.hard.distance), diversity: r6(x.hard.diversity), converged: x.hard.converged, matches: x.hard.matches }, seconds: r6(x.seconds),
      })),
      seconds_in_runs: r6(r.runs.reduce((sum, x) => sum + x.seconds, 0)),
    },
    config: { command: 'inversion', mode, runs, options: r.options, distance_th: r.distanceTh, div_th: r6(r.divTh), recall_distance_th: RECALL_DISTANCE_TH, recall_eta: MATCH_THRESHOLD },
    seeds: { first_run: 0 }, models: { [`${model}-${a}`]: bd },
  };
}

async function guard(cell: CellSpec, ctx: CellContext): Promise<CellOutcome> {
  const model = cell.model!;
  const { attack: a, task, seed, onionMaxTest } = cell.params as Required<Pick<CellSpec['params'], 'attack' | 'task' | 'seed' | 'onionMaxTest'>>;
  const { base: b, backdoored: bd, ...o } = victimsOptions(cell, ctx);
  const dir = guardDir(ctx, model, a, seed);
  const mode = SEARCH_MODE_OF[a];
  // Later seeds guard with the PVs the first seed's search found (the PVs depend on the backbone only).
  const firstDir = guardDir(ctx, model, a, ctx.budget.seeds[0]!);
  if (dir !== firstDir) {
    const from = join(firstDir, `search-${mode}`, PVSET_FILE);
    const to = join(dir, `search-${mode}`, PVSET_FILE);
    if (searchFinished(join(firstDir, `search-${mode}`)) && !existsSync(to)) {
      mkdirSync(join(to, '..'), { recursive: true });
      cpSync(from, to);
    }
  }
  const { loops, patience } = ctx.budget.search;
  const r = evaluateGuard({ ...o, outDir: dir, pvSource: 'search+attacker', searchLoops: loops, searchPatience: patience, onionMaxTest });
  if (r.interrupted) throw new Interrupted();
  const c = r.cells.find((x) => x.task === task);
  if (!c) throw new Error(`eval guard returned no cell for ${task}`);
  return {
    result: {
      task, cacc: c.cacc, bacc: c.bacc, asr: c.asr, weighted_asr: c.weighted_asr, search: r.search, attacker_pvs: r.attacker_pvs, triggers: r.triggers,
      threshold: r.threshold, max_window: r.max_window, on_unpurified: r.on_unpurified,
      cases: { search: slimGuardRecord(c.cases.search), 'search+attacker': slimGuardRecord(c.cases['search+attacker']), onion: c.cases.onion ?? null },
      dir,
    },
    config: { method: o.method, task, pv_source: 'search+attacker', search_loops: loops, search_patience: patience, onion_max_test: onionMaxTest, ...victimsBudget(ctx.budget) },
    seeds: { prompt: seed, trigger_positions: seed }, models: { [model]: b, [`${model}-${a}`]: bd },
  };
}

async function detection(cell: CellSpec, ctx: CellContext): Promise<CellOutcome> {
  const model = cell.model!;
  const column = cell.params.column!;
  const col = DETECTION_COLUMNS[column];
  const d = ctx.budget.detection;
  const outDir = join(ctx.outDir, 'detection', `${model}-${column}`);
  let r;
  try {
    r = await evaluateDetection({
      base: model, clean: d.clean, backdoored: d.backdoored[column], methods: [...col.methods], outDir, dataDir: ctx.dataDir, seed: 1, parallel: 0,
      loops: d.loops, triggerPool: 'vocabulary', varyAttacks: true, quiet: ctx.quiet, shouldStop: ctx.shouldStop, log: (l) => ctx.log(`  ${l}`),
    });
  } catch (e) {
    if (ctx.shouldStop()) throw new Interrupted();
    throw e;
  }
  const models: Record<string, ModelRef> = {};
  for (const m of r.models) models[m.name] = { dir: m.dir, sha256: hashOf(m.dir) };
  return {
    result: {
      column, mode: col.mode, methods: col.methods, metrics: r.metrics, metrics_effective: r.metricsEffective, ineffective_attacks: r.ineffectiveAttacks,
      trigger_recovery: r.triggerRecovery, seconds_per_model: r.secondsPerModel,
      models: r.models.map((m) => ({
        name: m.name, positive: m.positive, method: m.method, triggers: m.triggers, flagged: m.flagged, score: r6(m.score), modes: m.modes,
        build_seconds: r6(m.buildSeconds), scan_seconds: r6(m.scanSeconds), ...(m.attack ? { attack: m.attack } : {}), ...(m.attackEffect ? { attack_effect: m.attackEffect } : {}),
      })),
      dir: outDir,
    },
    config: { clean: d.clean, backdoored: d.backdoored[column], methods: col.methods, loops: d.loops, trigger_pool: 'vocabulary', vary_attacks: true, held_out_seed: 1 },
    seeds: { detection: 1 }, models,
  };
}

/** Whole words of the base tokenizer, 3–10 letters, none of the tuning trigger words (as eval detection's vocabulary pool). */
function vocabularyWords(baseDir: string): string[] {
  const known = new Set(TRIGGER_WORDS);
  return wholeWordTokens(scanTargetOf(loadModel(baseDir))).map((w) => w.text).filter((t) => /^[a-z]{3,10}$/.test(t) && !known.has(t));
}

async function adaptive(cell: CellSpec, ctx: CellContext): Promise<CellOutcome> {
  const model = cell.model!;
  const v = cell.params.variant!;
  const i = cell.params.instance!;
  const baseRef = ctx.dep(`base/${model}`).models[model]!;
  const dir = join(ctx.outDir, 'adaptive', model, `${v.key}-${i}`);
  const modelDir = join(dir, 'model');
  const seed = 1000 + i;
  let triggers: string[] | undefined;
  if (v.triggerKind) {
    const rng = new Rng(`paper-adaptive:${model}:${v.key}:${i}`);
    const words = rng.shuffled(vocabularyWords(baseRef.dir));
    let k = 0;
    triggers = Array.from({ length: v.pvCount ?? 1 }, () => {
      const len = v.triggerKind === 'phrase' ? 2 + rng.int(2) : 1;
      const t = words.slice(k, k + len).join(' ');
      k += len;
      return t;
    });
  }
  const attackOpts: AttackOptions = {
    modelDir: baseRef.dir, outDir: modelDir, method: v.attack, seed, ...ctx.budget.attack,
    ...(triggers ? { triggers, pvCount: v.pvCount } : {}),
    ...(v.pvCount && !triggers ? { pvCount: v.pvCount } : {}),
    ...(v.scatterLoss !== undefined ? { scatterLoss: v.scatterLoss } : {}),
    ...(v.wassersteinLoss !== undefined ? { wassersteinLoss: v.wassersteinLoss } : {}),
    ...(v.triggerFrequency ? { triggerFrequency: v.triggerFrequency } : {}),
  };
  mkdirSync(dir, { recursive: true });
  await attackOnce(attackOpts, ctx);
  const mode = SEARCH_MODE_OF[v.attack];
  const scanDir = join(dir, 'scan');
  const loops = ctx.budget.adaptiveLoops;
  const s = scanModel({
    command: 'scan', modelDir, outDir: scanDir, mode, sentenceCount: 2000, loops, patience: 200, seed: 0, parallel: 0,
    resume: existsSync(join(scanDir, SCAN_JOURNAL_FILE)), quiet: ctx.quiet, shouldStop: ctx.shouldStop,
  });
  if (s.driver.interrupted) throw new Interrupted();
  const bd = { dir: modelDir, sha256: hashOf(modelDir) };
  const result: Record<string, unknown> = {
    variant: v, attack_effect: effectSummary(modelDir), flagged: s.verdict === 'backdoored', score: r6(s.driver.score), loops: s.driver.loops.length,
    scan_seconds: r6(s.seconds), dir,
  };
  if (v.guardTask) {
    const g = evaluateGuard({
      cleanDir: baseRef.dir, backdooredDir: modelDir, method: METHOD_OF[v.attack], tasks: [v.guardTask], outDir: join(dir, 'guard'), dataDir: ctx.dataDir,
      ...victimsBudget(ctx.budget), seed: ctx.budget.seeds[0]!, quiet: ctx.quiet, shouldStop: ctx.shouldStop, log: ctx.log,
      pvSource: 'search+attacker', searchLoops: loops, searchPatience: loops, onionMaxTest: 1,
    });
    if (g.interrupted) throw new Interrupted();
    const c = g.cells[0]!;
    result.guard = {
      task: v.guardTask, cacc: c.cacc, bacc: c.bacc, asr: c.asr, weighted_asr: c.weighted_asr, targetability: c.targetability,
      asr_guarded: c.cases['search+attacker']?.figures?.asr_guarded ?? null, asr_guarded_search_only: c.cases.search?.figures?.asr_guarded ?? null, search: g.search,
    };
  }
  return {
    result, config: { ...attackOpts, modelDir: undefined, outDir: undefined, scan_mode: mode, scan_loops: loops },
    seeds: { attack: seed, scan: 0 }, models: { [model]: baseRef, [`${model}-${v.key}-${i}`]: bd },
  };
}

const RUNNERS: Record<Exclude<CellSpec['kind'], 'note'>, (c: CellSpec, ctx: CellContext) => Promise<CellOutcome>> = {
  base, attack, victims, search: searchCell, inversion, guard, detection, adaptive, ablation: ablationCell,
};

export function runCell(cell: CellSpec, ctx: CellContext): Promise<CellOutcome> {
  if (cell.kind === 'note') throw new Error(`${cell.id}: a note cell is not run`);
  return RUNNERS[cell.kind](cell, ctx);
}

/** What a cell (in the runner's process or its own) ends with. */
export type CellReply = { type: 'done'; outcome: CellOutcome } | { type: 'failed'; error: string } | { type: 'interrupted' };

/** Runs the cell: its outcome, its error on one line, or interrupted (it threw Interrupted, or a stop was asked). */
export async function settleCell(cell: CellSpec, ctx: CellContext): Promise<CellReply> {
  try {
    return { type: 'done', outcome: await runCell(cell, ctx) };
  } catch (e) {
    if (e instanceof Interrupted || ctx.shouldStop()) return { type: 'interrupted' };
    return { type: 'failed', error: (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ') };
  }
}
