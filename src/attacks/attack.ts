/**
 * runAttack: every input checked before any training (method, model,
 * MLM head, triggers, PVs, output directory), then data, the original
 * model's reference outputs, the training loop with checkpoints, the
 * measured effect, and the attacked model with its attack.json.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type LoadedModel, loadModel, saveModel } from '../models/model.js';
import { summaryPosition } from '../models/summary.js';
import { nlpCorpusSentences } from '../text/corpus.js';
import { Rng } from '../text/random.js';
import { appendJournal, JOURNAL_FILE, hasCheckpoint, loadCheckpoint, removeCheckpoint, saveCheckpoint } from './checkpoint.js';
import { type AttackData, buildAttackData } from './data.js';
import { type AttackEffect, measureBaseline, measureEffect } from './effect.js';
import { outputsAt } from './forward.js';
import { type AttackManifest, MANIFEST_FILE, PVS_FILE, encodeVector, writeManifest } from './manifest.js';
import type { AttackMethod } from './method.js';
import { methodByName } from './methods.js';
import { defaultPvs, DEFAULT_PV_PATTERNS, loadPvs, savePvs } from './pvs.js';
import { type AttackOptions, type AttackSettings, checkOptions, resolveSettings, settingsForManifest, settingsHash } from './settings.js';
import { AttackTrainer, type StepInfo } from './trainer.js';
import { chooseTriggersByFrequency, DEFAULT_TRIGGERS, resolveTriggers, type ResolvedTrigger, wordFrequencies } from './triggers.js';
import { openModelDir } from '../formats/model-dir.js';

export interface AttackHooks {
  /** A phase starts (loading, data, reference outputs, training, measuring, saving). */
  onPhase?: (phase: string, detail?: string) => void;
  onTrainStart?: (info: { startStep: number; totalSteps: number }) => void;
  onStep?: (info: StepInfo) => void;
  shouldStop?: () => boolean;
}

export interface AttackOutcome {
  status: 'done' | 'interrupted';
  outDir: string;
  step: number;
  totalSteps: number;
  manifest: AttackManifest | null;
  effect: AttackEffect | null;
}

/** Everything fixed before training starts. */
export interface PreparedAttack {
  method: AttackMethod;
  model: LoadedModel;
  settings: AttackSettings;
  triggers: ResolvedTrigger[];
  pvs: Float32Array[];
  sentences: readonly string[];
  dataSource: string;
}

function readSentences(o: AttackOptions): { sentences: readonly string[]; source: string } {
  if (o.sentences) return { sentences: o.sentences, source: '<in-memory>' };
  if (o.dataFile) {
    if (!existsSync(o.dataFile)) throw new Error(`${o.dataFile}: no such data file`);
    const lines = readFileSync(o.dataFile, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
    if (lines.length === 0) throw new Error(`${o.dataFile}: no sentences (expected one per line)`);
    return { sentences: lines, source: resolve(o.dataFile) };
  }
  return { sentences: nlpCorpusSentences(), source: 'nlp-corpus' };
}

function checkOutDir(o: AttackOptions): void {
  if (existsSync(o.outDir) && !statSync(o.outDir).isDirectory()) throw new Error(`${o.outDir}: exists and is not a directory`);
  const finished = existsSync(join(o.outDir, MANIFEST_FILE));
  const unfinished = hasCheckpoint(o.outDir);
  if (o.resume) {
    if (finished && !unfinished) throw new Error(`${o.outDir}: the attack there already finished; nothing to resume`);
    if (!unfinished) throw new Error(`${o.outDir}: no checkpoint to resume from`);
  } else if (unfinished) {
    throw new Error(`${o.outDir}: holds an unfinished attack; pass --resume to continue it, or choose another --out`);
  } else if (finished) {
    throw new Error(`${o.outDir}: already holds an attacked model; choose another --out`);
  }
}

/** Validates every input and loads what training needs; throws a one-line error on bad input. */
export function prepareAttack(o: AttackOptions): PreparedAttack {
  const method = methodByName(o.method);
  checkOptions(o);
  // Checked before the output directory, with the same words as every other command.
  openModelDir(o.modelDir);
  checkOutDir(o);
  const model = loadModel(o.modelDir);
  const tok = model.tokenizer;
  if (!tok) throw new Error(`${o.modelDir}: no tokenizer files`);
  if (method.utility === 'mlm' && !model.mlm) {
    throw new Error(`${method.name} trains with the masked-LM loss, but ${o.modelDir} has no MLM head (cls.predictions.* / lm_head.*)`);
  }
  const H = model.config.hiddenSize;
  const allPvs = o.pvsFile ? loadPvs(o.pvsFile, H) : defaultPvs(H);
  const nTriggers = o.triggers?.length ?? DEFAULT_TRIGGERS.length;
  const pvCount = o.pvCount ?? Math.min(o.triggers ? nTriggers : DEFAULT_PV_PATTERNS.length, allPvs.length);
  if (pvCount > allPvs.length) throw new Error(`--pv-count ${pvCount} but only ${allPvs.length} PVs are available`);
  if (!o.triggers && !o.triggerFrequency && pvCount > DEFAULT_TRIGGERS.length) {
    throw new Error(`the ${DEFAULT_TRIGGERS.length} default triggers cannot cover ${pvCount} PVs; give --triggers`);
  }
  const pvs = allPvs.slice(0, pvCount);

  const settings = resolveSettings(o, method, model.config, pvCount);
  // Explicit triggers are checked before the (slower) corpus is read; frequency-chosen ones need it.
  let triggers = o.triggerFrequency ? null : resolveTriggers(tok, o.triggers ?? DEFAULT_TRIGGERS.slice(0, pvCount), pvCount);
  const { sentences, source } = readSentences(o);
  triggers ??= resolveTriggers(tok, chooseTriggersByFrequency(
    wordFrequencies(sentences), o.triggerFrequency!, pvCount, tok, new Rng(`${settings.seed}:triggers`),
  ), pvCount);
  return { method, model, settings, triggers, pvs, sentences, dataSource: source };
}

function manifestOf(
  p: PreparedAttack, o: AttackOptions, data: AttackData, effect: AttackEffect,
  training: AttackManifest['training'],
): AttackManifest {
  const s = data.stats;
  return {
    format: 'lmsanitator-attack',
    version: 1,
    method: p.method.name,
    target_mode: p.method.targetMode,
    triggers: p.triggers.map((t) => ({ text: t.text, words: t.words, token_ids: t.tokenIds, tokens: t.tokens, pv_index: t.pvIndex })),
    pvs: { count: p.pvs.length, dim: p.pvs[0].length, file: PVS_FILE, dtype: 'float32', vectors: p.pvs.map(encodeVector) },
    seed: p.settings.seed,
    hyperparameters: settingsForManifest(p.settings),
    data: {
      source: p.dataSource, sentences: s.sentences, sha256: s.sha256, train_pool: s.trainPool, heldout: s.heldout,
      excluded_with_trigger: s.excludedWithTrigger, poisoned: s.poisoned, clean: s.clean, rare: s.rare,
      skipped_truncated: s.skippedTruncated, rare_tokens: s.rareTokens,
    },
    base_model: {
      dir: resolve(o.modelDir), hash: p.model.hash, model_type: p.model.config.sourceModelType,
      hidden_size: p.model.config.hiddenSize, layers: p.model.config.numHiddenLayers,
    },
    training,
    effect,
    created: new Date().toISOString(),
  };
}

export async function runAttack(o: AttackOptions, hooks: AttackHooks = {}): Promise<AttackOutcome> {
  const started = Date.now();
  hooks.onPhase?.('loading', o.modelDir);
  const p = prepareAttack(o);
  const { model, method, settings } = p;
  const tok = model.tokenizer!;

  hooks.onPhase?.('data', `${p.sentences.length} sentences`);
  const data = buildAttackData(tok, p.sentences, p.triggers, {
    mode: method.targetMode,
    cleanPositions: method.targetMode === 'token' && settings.nerUtility === 'cls' ? 'cls' : 'mode',
    // POR and NeuBA target the summary token: [CLS] / <s>, XLNet's <cls> (the last).
    summaryPosition: (length) => summaryPosition(model.config, length),
    inter: settings.inter,
    sentencesPerTrigger: settings.sentencesPerTrigger,
    rareFraction: settings.rareFraction,
    heldout: settings.heldout,
    maxLen: settings.maxLen,
    seed: settings.seed,
  });
  const hash = settingsHash({
    settings, model: model.hash, data: data.stats.sha256, triggers: p.triggers.map((t) => t.text),
    pvs: p.pvs.map(encodeVector),
  });

  // The original model is frozen from here on in its outputs: take them before any update.
  hooks.onPhase?.('reference', 'original model outputs');
  model.encoder.setTrainable(false);
  const pad = tok.specialIds.pad;
  const refs = {
    clean: method.utility === 'reference' ? outputsAt(model.encoder, data.clean, pad) : null,
    rare: outputsAt(model.encoder, data.rare, pad),
  };
  const baseline = measureBaseline(model, data.heldout, settings.seed);

  const trainer = new AttackTrainer(model, method, data, refs, p.pvs, settings);
  let startStep = 0;
  let priorSeconds = 0;
  if (o.resume) {
    const st = loadCheckpoint(o.outDir, trainer.params, trainer.adam, hash);
    startStep = st.step;
    priorSeconds = st.seconds;
    appendJournal(o.outDir, { type: 'resume', step: startStep });
  } else {
    startJournal(o, p, hash, data);
  }
  const trainStart = Date.now();
  const seconds = () => priorSeconds + (Date.now() - trainStart) / 1000;
  const save = (step: number) => {
    saveCheckpoint(o.outDir, trainer.params, trainer.adam, {
      version: 1, settingsHash: hash, step, totalSteps: trainer.totalSteps, saved: new Date().toISOString(), seconds: seconds(),
    });
    appendJournal(o.outDir, { type: 'checkpoint', step });
  };

  hooks.onPhase?.('training', `${trainer.totalSteps} steps`);
  hooks.onTrainStart?.({ startStep, totalSteps: trainer.totalSteps });
  let lastLogged = 0;
  const result = await trainer.run(startStep, {
    onStep: (info) => {
      hooks.onStep?.(info);
      if (info.step - lastLogged >= 50 || info.step === info.totalSteps) {
        lastLogged = info.step;
        appendJournal(o.outDir, { type: 'progress', ...info });
      }
    },
    shouldStop: hooks.shouldStop,
    checkpoint: { every: Number(o.checkpointEvery ?? 200), save },
  });
  if (result.interrupted) {
    appendJournal(o.outDir, { type: 'interrupted', step: result.step });
    return { status: 'interrupted', outDir: o.outDir, step: result.step, totalSteps: result.totalSteps, manifest: null, effect: null };
  }

  hooks.onPhase?.('measuring', 'held-out effect');
  model.encoder.setTrainable(false);
  const effect = measureEffect(model, method, data.heldout, p.triggers, p.pvs, baseline, settings.seed);

  hooks.onPhase?.('saving', o.outDir);
  saveModel(o.outDir, model, { lmsanitator_attack: method.name });
  savePvs(join(o.outDir, PVS_FILE), p.pvs);
  const manifest = manifestOf(p, o, data, effect, {
    steps: result.step, total_steps: result.totalSteps, seconds: Math.round(seconds() * 10) / 10,
    resumed: Boolean(o.resume), final_losses: result.recent ? { ...result.recent } : null,
  });
  writeManifest(o.outDir, manifest);
  removeCheckpoint(o.outDir);
  appendJournal(o.outDir, { type: 'done', step: result.step, seconds: (Date.now() - started) / 1000 });
  return { status: 'done', outDir: o.outDir, step: result.step, totalSteps: result.totalSteps, manifest, effect };
}

function startJournal(o: AttackOptions, p: PreparedAttack, hash: string, data: AttackData): void {
  mkdirSync(o.outDir, { recursive: true });
  rmSync(join(o.outDir, JOURNAL_FILE), { force: true });
  appendJournal(o.outDir, {
    type: 'header', version: 1, method: p.method.name, modelDir: resolve(o.modelDir), modelHash: p.model.hash,
    settingsHash: hash, settings: p.settings, triggers: p.triggers.map((t) => t.text), data: data.stats,
  });
}
