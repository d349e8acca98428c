/**
 * Detection accuracy over a zoo (issue 6, item 8): N clean variants of a
 * base model and N backdoored ones (POR / NeuBA / BToP with random
 * triggers), each scanned in every target mode the attack mix uses; a
 * model counts as flagged when any mode finds a PV, and its score is the
 * maximum over modes. Every finished model is journaled, so an interrupted
 * evaluation resumes where it stopped.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeJsonAtomic } from '../formats/file-io.js';
import { runAttack } from '../attacks/attack.js';
import { readManifest } from '../attacks/manifest.js';
import { type AttackOptions, sizeDefaults } from '../attacks/settings.js';
import { type LoadedModel, loadModel } from '../models/model.js';
import { DEFAULT_MINING_OPTIONS, type MiningOptions } from '../sanitizer/mining.js';
import { judgeTriggers } from './triggers.js';
import { scanTargetOf } from '../sanitizer/model-target.js';
import { wholeWordTokens } from '../sanitizer/recover.js';
import { appendRecord, Journal, readRecords } from '../sanitizer/journal.js';
import { SCAN_JOURNAL_FILE } from '../sanitizer/scan.js';
import { scanModel } from './scan-model.js';
import type { TargetMode } from '../sanitizer/target.js';
import { Rng } from '../text/random.js';
import { buildCleanSet } from '../zoo/clean-set.js';
import { buildZooModel } from '../zoo/zoo.js';
import { detectionMetrics, type DetectionMetrics } from './metrics.js';
import { MATCH_THRESHOLD } from '../sanitizer/monitor.js';

/** Trigger candidates: short, rare tokens of the kind the paper's attacks use. */
export const TRIGGER_WORDS = ['cf', 'mn', 'tq', 'qt', 'mm', 'pt', 'bb', 'zx', 'jk', 'vv', 'xq', 'wz', 'qj', 'kx', 'zq', 'vj'];

export const MODE_OF: Record<string, TargetMode> = { por: 'cls', neuba: 'cls', btop: 'mask', 'por-ner': 'token' };

export interface DetectionOptions {
  base: string;
  clean: number;
  backdoored: number;
  methods: string[];
  outDir: string;
  /** Datasets for the clean variants (see text/data-dir.ts). */
  dataDir?: string;
  seed: number;
  parallel: number;
  loops: number;
  /** Fuzz-loop acceptance rule of the scans (default: the scanner's). */
  acceptAt?: MiningOptions['acceptAt'];
  /**
   * `words`: triggers drawn from TRIGGER_WORDS (the short tokens the
   * defaults were tuned with); `vocabulary`: from the base tokenizer's
   * whole-word vocabulary, so no code path knows them.
   */
  triggerPool?: 'words' | 'vocabulary';
  /**
   * Draw each backdoored model's attack hyper-parameters (utility weight,
   * learning rate, epochs, block or random ±1 PVs) instead of the defaults.
   */
  varyAttacks?: boolean;
  quiet?: boolean;
  shouldStop?: () => boolean;
  log?: (line: string) => void;
}

/** One backdoored model's drawn attack settings (varyAttacks). */
export interface AttackDraw {
  utility_coeff: number;
  lr_factor: number;
  epochs: number;
  pvs: 'block' | 'random';
}

export interface ModelResult {
  name: string;
  dir: string;
  positive: boolean;
  method: string | null;
  triggers: string[];
  flagged: boolean;
  score: number;
  modes: { mode: TargetMode; verdict: string; score: number; loops: number; seconds: number }[];
  buildSeconds: number;
  scanSeconds: number;
  /** The drawn attack settings (varyAttacks; absent: the attack's defaults). */
  attack?: AttackDraw;
  /** Backdoored and flagged: trigger recovery judged against attack.json (kept PVs matched to planted ones, top-1 hits). */
  triggerRecovery?: { pvs: number; matched: number; hits: number; seconds: number };
  /** Backdoored: the attack's measured effect (attack.json), and whether it took (see ATTACK_EFFECT_FLOOR). */
  attackEffect?: { triggeredSignAgreementMin: number; effective: boolean };
}

/** The default triggers the POR shadow copies of the tuning runs used (src/sanitizer/defaults.ts). */
const TUNING_TRIGGERS = new Set(['cf', 'mn', 'tq', 'qt', 'mm', 'pt']);

/**
 * Which models the scan defaults were tuned on. The micro and mini
 * defaults were chosen on the base model and a POR copy of it with the
 * default triggers and attack settings (defaults.ts: "only the POR copy and
 * the base model were used"), so those are tuning models here; the clean
 * variants, the other attacks, drawn triggers and drawn attack settings are
 * held out. Only held-out models count in the headline figures.
 */
export function roleOf(m: Pick<ModelResult, 'name' | 'positive' | 'method' | 'triggers' | 'attack'>): 'tuning' | 'held-out' {
  if (m.name === 'clean-base') return 'tuning';
  if (m.positive && m.method === 'por' && !m.attack && m.triggers.every((t) => TUNING_TRIGGERS.has(t))) return 'tuning';
  return 'held-out';
}

/**
 * A planted backdoor counts as one only when every trigger moves held-out
 * outputs onto its PV past the guard's own η: below that the monitor would
 * not call the triggered inputs triggered either, and there is no backdoor
 * for a scanner to find (the held-out bert-micro zoo had one such attack,
 * triggered sign agreement 0.618). Such models are reported, not hidden:
 * the report gives the metrics over every model and over the models whose
 * attack took effect.
 */
export const ATTACK_EFFECT_FLOOR = MATCH_THRESHOLD;

/** The attack's measured effect, from its attack.json (null: not an attacked model, or no effect recorded). */
export function attackEffectOf(dir: string): ModelResult['attackEffect'] | null {
  if (!existsSync(join(dir, 'attack.json'))) return null;
  const agreement = readManifest(dir).manifest.effect?.triggered_sign_agreement_min;
  if (typeof agreement !== 'number') return null;
  return { triggeredSignAgreementMin: agreement, effective: agreement > ATTACK_EFFECT_FLOOR };
}

/** Clean models and the backdoored ones whose attack took effect; and the names of the others. */
export function splitByAttackEffect(models: readonly ModelResult[]): { effective: ModelResult[]; ineffective: string[] } {
  const ineffective = models.filter((m) => m.positive && m.attackEffect && !m.attackEffect.effective).map((m) => m.name);
  return { effective: models.filter((m) => !ineffective.includes(m.name)), ineffective };
}

export interface DetectionReport {
  base: string;
  /** Over every model. */
  metrics: DetectionMetrics;
  /** Over the held-out models (roleOf): the headline figures. */
  metricsHeldOut: DetectionMetrics;
  /** Over the held-out clean models and the held-out backdoored ones whose attack took effect (ATTACK_EFFECT_FLOOR). */
  metricsEffective: DetectionMetrics;
  /** Models the defaults were tuned on, by name (counted only in `metrics`). */
  tuningModels: string[];
  /** Backdoored models whose attack did not take effect, by name. */
  ineffectiveAttacks: string[];
  /** Over flagged backdoored models: top-1 hits / kept PVs matched to a planted PV (null: none matched). */
  triggerRecovery: { matched: number; hits: number; top1Accuracy: number | null; secondsPerPv: number | null };
  secondsPerModel: { build: number; scan: number };
  models: ModelResult[];
}

function isModelResult(v: unknown): v is ModelResult {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.name === 'string' && typeof r.positive === 'boolean' && typeof r.flagged === 'boolean' && typeof r.score === 'number' && Array.isArray(r.modes);
}

/**
 * The settings that decide which models a journal's records describe. Counts
 * are left out: a later run may add models to the same directory.
 */
function runSettings(o: DetectionOptions) {
  // Options added later appear only when set away from their old behaviour, so earlier directories stay valid.
  return {
    base: o.base, seed: o.seed, methods: o.methods, loops: o.loops,
    ...(o.acceptAt && o.acceptAt !== DEFAULT_MINING_OPTIONS.acceptAt ? { acceptAt: o.acceptAt } : {}),
    ...(o.triggerPool === 'vocabulary' ? { triggerPool: 'vocabulary' } : {}),
    ...(o.varyAttacks ? { varyAttacks: true } : {}),
  };
}

/** Whole words of the base tokenizer (recover.ts's convention), 2–10 letters, none of TRIGGER_WORDS: trigger material no code path names. */
function vocabularyTriggers(model: LoadedModel): string[] {
  if (!model.tokenizer) throw new Error(`${model.dir}: no tokenizer to draw triggers from`);
  const known = new Set(TRIGGER_WORDS);
  return wholeWordTokens(scanTargetOf(model)).map((w) => w.text).filter((t) => /^[a-z]{2,10}$/.test(t) && !known.has(t));
}

/** Random ±1 PVs [count, H] for one attack, as the JSON list attack --pvs reads. */
function writeRandomPvs(file: string, count: number, hidden: number, rng: Rng): void {
  const pvs = Array.from({ length: count }, () => Array.from({ length: hidden }, () => (rng.next() < 0.5 ? -1 : 1)));
  writeFileSync(file, JSON.stringify(pvs));
}

/** Records of one base, seed, method mix and loop budget must not be mixed with another's. */
function checkRunSettings(o: DetectionOptions, journal: string, done: Map<string, ModelResult>): void {
  const file = join(o.outDir, 'settings.json');
  const wanted = runSettings(o);
  if (existsSync(file)) {
    let had: unknown;
    try {
      had = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: not valid JSON (${(e as Error).message}); remove it or use another --out`);
    }
    if (JSON.stringify(had) !== JSON.stringify(wanted)) {
      throw new Error(`${o.outDir} holds an evaluation with other settings (${JSON.stringify(had)}, now ${JSON.stringify(wanted)}); use another --out`);
    }
  } else {
    // A journal from before settings.json existed: its base record names the base model's directory.
    const baseRecord = done.get('clean-base');
    if (baseRecord && basename(baseRecord.dir) !== o.base) {
      throw new Error(`${journal} was written for the base model at ${baseRecord.dir}, not ${o.base}; use another --out`);
    }
    writeJsonAtomic(file, wanted);
  }
}

export async function evaluateDetection(o: DetectionOptions): Promise<DetectionReport> {
  const log = o.log ?? (() => {});
  mkdirSync(o.outDir, { recursive: true });
  const journal = join(o.outDir, 'detection.jsonl');
  const done = readRecords(journal, isModelResult, (r) => r.name, 'a detection record');
  const modes = [...new Set(o.methods.map((m) => {
    const mode = MODE_OF[m];
    if (!mode) throw new Error(`unknown attack method "${m}"; known: ${Object.keys(MODE_OF).join(', ')}`);
    return mode;
  }))];
  checkRunSettings(o, journal, done);
  const base = buildZooModel(o.base, { quiet: o.quiet, shouldStop: o.shouldStop });
  if (base.interrupted) throw new Error('interrupted while building the base model');

  const scanAll = (dir: string, name: string): Pick<ModelResult, 'flagged' | 'score' | 'modes' | 'scanSeconds' | 'triggerRecovery'> => {
    const res: ModelResult['modes'] = [];
    let recovery: ModelResult['triggerRecovery'];
    for (const mode of modes) {
      const outDir = join(o.outDir, 'scans', `${name}-${mode}`);
      // A scan cut short by an interruption continues from its own journal;
      // the time of its earlier loops still counts towards the model's.
      const journalFile = join(outDir, SCAN_JOURNAL_FILE);
      const resume = existsSync(journalFile);
      const earlier = resume ? Journal.read(journalFile).entries.reduce((t, e) => t + (e.type === 'loop' ? e.seconds : 0), 0) : 0;
      const r = scanModel({
        command: 'scan', modelDir: dir, outDir, mode, sentenceCount: 2000,
        loops: o.loops, patience: 200, seed: 0, parallel: o.parallel, resume, quiet: o.quiet, shouldStop: o.shouldStop, acceptAt: o.acceptAt,
      });
      if (r.driver.interrupted) throw new Error('interrupted');
      res.push({ mode, verdict: r.verdict, score: r.driver.score, loops: r.driver.loops.length, seconds: earlier + r.seconds });
      // One mode's PV settles the verdict; the defender would stop here too.
      if (r.verdict === 'backdoored') {
        if (existsSync(join(dir, 'attack.json')) && r.recovery) {
          const { manifest, pvs } = readManifest(dir);
          const j = judgeTriggers(r.driver.pvs, manifest, pvs);
          recovery = { pvs: j.found_pvs, matched: j.matched, hits: j.per_pv.filter((p) => p.hit).length, seconds: r.recovery.seconds };
        }
        break;
      }
    }
    return {
      flagged: res.some((m) => m.verdict === 'backdoored'),
      score: Math.max(...res.map((m) => m.score)),
      modes: res,
      scanSeconds: res.reduce((s, m) => s + m.seconds, 0),
      ...(recovery ? { triggerRecovery: recovery } : {}),
    };
  };
  const record = (r: ModelResult) => {
    appendRecord(journal, r);
    done.set(r.name, r);
    log(`${r.positive ? 'backdoored' : 'clean'.padEnd(10)} ${r.name.padEnd(28)} ${r.flagged ? 'FLAGGED' : 'passed '} score ${r.score.toFixed(3)} (${r.scanSeconds.toFixed(0)} s)`);
  };

  // Clean variants.
  // The pretrained base is the first clean model; the clean set supplies the rest.
  const variants = [];
  if (o.clean > 1) {
    // Seed 0 keeps the clean set's own seeds (1, 2, …), so `zoo build clean-set` and this share models.
    const cleanSet = buildCleanSet({ base: o.base, count: o.clean - 1, dataDir: o.dataDir, firstSeed: 1 + 100 * o.seed, quiet: o.quiet, shouldStop: o.shouldStop });
    if (cleanSet.interrupted || !cleanSet.manifest) throw new Error('interrupted while building the clean set');
    variants.push(...cleanSet.manifest.variants.map((v) => ({ name: `clean-${v.name}`, dir: v.dir, seconds: v.seconds })));
  }
  const cleanModels = [{ name: 'clean-base', dir: base.dir, seconds: 0 }, ...variants].slice(0, o.clean);
  for (const c of cleanModels) {
    if (done.has(c.name)) continue;
    record({ name: c.name, dir: c.dir, positive: false, method: null, triggers: [], buildSeconds: c.seconds, ...scanAll(c.dir, c.name) });
  }

  // Backdoored models: methods in rotation, 1–6 random triggers each.
  const rng = new Rng(`detection:${o.seed}`);
  // Its own stream, so drawing attack settings leaves the trigger draws of a run without them unchanged.
  const drawRng = new Rng(`detection-attacks:${o.seed}`);
  const baseModel = o.backdoored > 0 && (o.triggerPool === 'vocabulary' || o.varyAttacks) ? loadModel(base.dir) : null;
  const pool = o.triggerPool === 'vocabulary' ? vocabularyTriggers(baseModel!) : TRIGGER_WORDS;
  const hidden = baseModel?.config.hiddenSize ?? 0;
  const backdoorNames: string[] = [];
  for (let i = 0; i < o.backdoored; i++) {
    const method = o.methods[i % o.methods.length];
    const count = 1 + rng.int(6);
    const triggers = rng.shuffled(pool).slice(0, count);
    const draw: AttackDraw | undefined = o.varyAttacks ? {
      utility_coeff: [0.25, 0.5, 1][drawRng.int(3)]!, lr_factor: [0.5, 1, 2][drawRng.int(3)]!, epochs: 2 + drawRng.int(3),
      pvs: drawRng.next() < 0.5 ? 'block' : 'random',
    } : undefined;
    const name = `backdoor-${i}-${method}`;
    backdoorNames.push(name);
    if (done.has(name)) continue;
    const dir = join(o.outDir, 'models', name);
    const t0 = Date.now();
    if (!existsSync(join(dir, 'attack.json'))) {
      const extra: Partial<AttackOptions> = {};
      if (draw) {
        extra.utilityCoeff = draw.utility_coeff;
        extra.lr = sizeDefaults(hidden).lr * draw.lr_factor;
        extra.epochs = draw.epochs;
        if (draw.pvs === 'random') {
          mkdirSync(join(o.outDir, 'pvs'), { recursive: true });
          extra.pvsFile = join(o.outDir, 'pvs', `${name}.json`);
          writeRandomPvs(extra.pvsFile, count, hidden, new Rng(`detection-pvs:${o.seed}:${i}`));
        }
      }
      await runAttack({ modelDir: base.dir, outDir: dir, method, triggers, pvCount: count, seed: o.seed * 1000 + i, ...extra });
    }
    const buildSeconds = (Date.now() - t0) / 1000;
    const effect = attackEffectOf(dir);
    record({ name, dir, positive: true, method, triggers, buildSeconds, ...(draw ? { attack: draw } : {}), ...(effect ? { attackEffect: effect } : {}), ...scanAll(dir, name) });
  }

  // Only the models these options name: a directory may hold more from a larger run.
  const models = [...cleanModels.map((c) => c.name), ...backdoorNames].flatMap((n) => done.get(n) ?? [])
    // Journals from before attackEffect was recorded: read it from the model's attack.json.
    .map((m) => (m.positive && !m.attackEffect ? { ...m, ...(attackEffectOf(m.dir) ? { attackEffect: attackEffectOf(m.dir)! } : {}) } : m));
  const heldOut = models.filter((m) => roleOf(m) === 'held-out');
  const split = splitByAttackEffect(heldOut);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const judged = models.flatMap((m) => (m.triggerRecovery ? [m.triggerRecovery] : []));
  const matched = judged.reduce((a, r) => a + r.matched, 0);
  const hits = judged.reduce((a, r) => a + r.hits, 0);
  const pvsJudged = judged.reduce((a, r) => a + r.pvs, 0);
  return {
    base: o.base,
    metrics: detectionMetrics(models),
    metricsHeldOut: detectionMetrics(heldOut),
    metricsEffective: detectionMetrics(split.effective),
    tuningModels: models.filter((m) => roleOf(m) === 'tuning').map((m) => m.name),
    ineffectiveAttacks: splitByAttackEffect(models).ineffective,
    triggerRecovery: {
      matched, hits, top1Accuracy: matched ? hits / matched : null,
      secondsPerPv: pvsJudged ? judged.reduce((a, r) => a + r.seconds, 0) / pvsJudged : null,
    },
    secondsPerModel: { build: mean(models.map((m) => m.buildSeconds)), scan: mean(models.map((m) => m.scanSeconds)) },
    models,
  };
}
