/**
 * Prompt tuning on a frozen backbone: P-tuning (prompt rows in a template,
 * verbalizer on the MLM head) or P-tuning v2 (per-layer prefixes and a
 * linear head), through the shared training loop. Only the prompt tensors
 * (and the v2 head) train; the backbone is frozen, so its linear layers
 * cost no weight-gradient GEMM, and the run checks afterwards that none of
 * its tensors received a gradient. The dev split is evaluated every epoch;
 * the best epoch's tensors are kept, and `patience` epochs without a better
 * dev metric stop the run.
 */
import { createHash } from 'node:crypto';
import { crossEntropy } from '../engine/index.js';
import { backendName } from '../engine/backend.js';
import type { LoadedModel } from '../models/model.js';
import { Rng } from '../text/random.js';
import { bucketedBatches, epochCache } from '../train/batching.js';
import { trainLoop } from '../train/loop.js';
import { backboneShape, backboneTensors, freezeBackbone, padRows, type PromptMethod, type PromptModel, type PromptRow } from './model.js';
import { evaluatePrompt, type PromptEval } from './predict.js';
import { PrefixTuningModel } from './ptuning-v2.js';
import { PTuningModel } from './ptuning.js';
import { loadPromptTask, type PromptTaskData } from './tasks.js';

export interface PromptTuneOptions {
  method: PromptMethod;
  task: string;
  dataDir?: string;
  /** P-tuning v2: prefix rows per layer. P-tuning: prompt rows per `<p>` of the template. */
  prefixLen?: number;
  epochs: number;
  lr: number;
  batchSize: number;
  maxLen: number;
  /** Training examples kept (seeded by `seed`). */
  maxTrain?: number;
  /** Dev examples kept (fixed seed), to bound the per-epoch evaluation. */
  maxDev?: number;
  /** Stop after this many steps even if `epochs` is not done. */
  maxSteps?: number;
  seed: number;
  /** Train through a reparameterisation network (P-tuning: PEFT's MLP prompt encoder; v2: the prefix projection). */
  reparam?: boolean;
  /** Its hidden size (default: the backbone's hidden size). */
  reparamHidden?: number;
  /** Epochs without a better dev metric before stopping (default 5). */
  patience?: number;
  warmupFraction?: number;
  weightDecay?: number;
  clip?: number;
  quiet?: boolean;
  shouldStop?: () => boolean;
  /** Save params + Adam state here every epoch and on Ctrl-C; a matching file is resumed from. */
  checkpointFile?: string;
}

/** Defaults near the papers' settings for the small zoo backbones. */
export const PROMPT_DEFAULTS = {
  'ptuning-v2': { prefixLen: 16, lr: 1e-2, epochs: 10 },
  ptuning: { prefixLen: 1, lr: 1e-2, epochs: 10 },
  batchSize: 16, maxLen: 128, warmupFraction: 0.06, weightDecay: 0, clip: 1.0, patience: 5,
} as const;

export interface PromptTuneRecord {
  method: PromptMethod;
  task: string;
  labels: readonly string[];
  seed: number;
  data: string;
  train_examples: number;
  dev_examples: number;
  epochs: number;
  steps: number;
  steps_planned: number;
  best_step: number | null;
  early_stopped: boolean;
  interrupted: boolean;
  hyperparameters: Record<string, number | boolean | null>;
  /** The best epoch's dev metrics (the tensors returned are that epoch's). */
  dev: PromptEval | null;
  /** Dev metric after each evaluation. */
  dev_history: { step: number; metric: number }[];
  first_train_loss: number;
  final_train_loss_ema: number;
  truncated_train_examples: number;
  trainable_parameters: number;
  tokens_per_second: number;
  seconds: number;
  backend: string;
}

export interface PromptTuneResult {
  model: PromptModel;
  record: PromptTuneRecord;
  /** Training loss of every step run in this process. */
  losses: number[];
  interrupted: boolean;
  data: PromptTaskData;
}

/** Builds the untrained model for a method and task (the artefact loaders use the same constructors). */
export function createPromptModel(backbone: LoadedModel, o: Pick<PromptTuneOptions, 'method' | 'task' | 'prefixLen' | 'maxLen' | 'seed' | 'reparam' | 'reparamHidden'>, data?: PromptTaskData): PromptModel {
  const task = data?.task ?? o.task;
  const reparamHidden = o.reparam ? (o.reparamHidden ?? backbone.config.hiddenSize) : undefined;
  if (o.method === 'ptuning') {
    if (task === 'conll04') throw new Error('P-tuning has no NER variant; use --method ptuning-v2 for conll04');
    return PTuningModel.create(backbone, {
      task: task as Exclude<PromptTaskData['task'], 'conll04'>, rowsPerPlaceholder: o.prefixLen ?? PROMPT_DEFAULTS.ptuning.prefixLen, reparamHidden, maxLen: o.maxLen, seed: o.seed,
    });
  }
  if (o.method === 'ptuning-v2') {
    return PrefixTuningModel.create(backbone, {
      task: task as PromptTaskData['task'], prefixLen: o.prefixLen ?? PROMPT_DEFAULTS['ptuning-v2'].prefixLen, reparamHidden, maxLen: o.maxLen, seed: o.seed,
    });
  }
  throw new Error(`unknown prompt method "${String(o.method)}"; choose ptuning or ptuning-v2`);
}

/** The loss of one batch: cross-entropy over labels (classification) or over scored tokens (NER). */
export function promptLoss(model: PromptModel, rows: readonly PromptRow[], dropoutSeed?: number): { loss: ReturnType<typeof crossEntropy>; tokens: number } {
  const b = padRows(rows, model.backbone.tokenizer!.specialIds.pad);
  const { logits } = model.forward(b, { dropoutSeed });
  let labels: Int32Array;
  if (model.kind === 'ner') {
    labels = new Int32Array(b.B * b.T).fill(-100);
    rows.forEach((r, i) => labels.set(r.tokenLabels!, i * b.T));
  } else {
    labels = Int32Array.from(rows, (r) => r.label!);
  }
  return { loss: crossEntropy(logits, labels), tokens: b.B * b.T };
}

export function promptTune(backbone: LoadedModel, o: PromptTuneOptions): PromptTuneResult {
  const started = Date.now();
  if (!backbone.tokenizer) throw new Error(`${backbone.dir ?? 'backbone'}: prompt tuning needs the backbone's tokenizer`);
  for (const [k, v] of [['epochs', o.epochs], ['batch size', o.batchSize], ['max length', o.maxLen]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer, got ${v}`);
  }
  if (!(o.lr > 0)) throw new RangeError(`learning rate must be positive, got ${o.lr}`);
  const data = loadPromptTask(o.task, { dataDir: o.dataDir, maxTrain: o.maxTrain, maxDev: o.maxDev, seed: o.seed });
  freezeBackbone(backbone);
  const model = createPromptModel(backbone, o, data);
  const rows: PromptRow[] = data.kind === 'ner'
    ? data.train.map((s) => model.encode({ tokens: s.tokens, tags: s.tags.map((t) => model.labelNames.indexOf(t)) }))
    : data.train.map((e) => model.encode({ text: e.text, textB: e.textB, label: e.label }));
  const lengths = rows.map((r) => r.ids.length);
  const perEpoch = Math.ceil(rows.length / o.batchSize);
  const steps = Math.max(1, Math.min(o.maxSteps ?? Infinity, o.epochs * perEpoch));
  const epochBatches = epochCache((epoch) => bucketedBatches(lengths, o.batchSize, new Rng(`${o.seed}:prompt:epoch:${epoch}`)));
  const warmupFraction = o.warmupFraction ?? PROMPT_DEFAULTS.warmupFraction;
  const weightDecay = o.weightDecay ?? PROMPT_DEFAULTS.weightDecay;
  const clip = o.clip ?? PROMPT_DEFAULTS.clip;
  const patience = o.patience ?? PROMPT_DEFAULTS.patience;
  const params = model.trainable();
  const hyperparameters = {
    epochs: o.epochs, lr: o.lr, batch_size: o.batchSize, max_len: model.maxLen, warmup_fraction: warmupFraction, weight_decay: weightDecay,
    clip, patience, max_steps: o.maxSteps ?? null, max_train: o.maxTrain ?? null, max_dev: o.maxDev ?? null,
    prefix_len: model.info.prefixLength ?? model.info.rowsPerPlaceholder ?? null,
    reparam: Boolean(model.info.reparam), reparam_hidden: model.info.reparam?.hiddenSize ?? null, dropout: backbone.config.hiddenDropoutProb,
  };
  const identity = createHash('sha256').update(JSON.stringify({
    method: o.method, task: data.task, seed: o.seed, backbone: backbone.hash, shape: backboneShape(backbone.config), data: data.data, hyperparameters,
  })).digest('hex').slice(0, 16);

  const run = trainLoop({
    label: `${o.method} ${data.task}`, params, steps, lr: o.lr, warmupFraction, weightDecay, clip, quiet: o.quiet, shouldStop: o.shouldStop,
    batchAt: (step) => epochBatches(Math.floor(step / perEpoch))[step % perEpoch]!.map((i) => rows[i]!),
    lossOf: (batch, step) => promptLoss(model, batch, (Math.imul(o.seed, 7919) + step) >>> 0),
    evaluate: { every: perEpoch, patience, run: () => evaluatePrompt(model, data.dev, { batchSize: Math.max(o.batchSize, 32) }) },
    checkpoint: o.checkpointFile ? { file: o.checkpointFile, every: perEpoch, identity } : undefined,
  });
  const leaked = backboneTensors(backbone).find((t) => t.grad !== null);
  if (leaked) throw new Error(`internal error: backbone tensor ${leaked.name ?? '(unnamed)'} received a gradient during prompt tuning`);
  model.fold();
  const best = run.best as ({ step: number } & PromptEval) | null;
  const record: PromptTuneRecord = {
    method: o.method, task: data.task, labels: data.labelNames, seed: o.seed, data: data.data,
    train_examples: rows.length, dev_examples: data.dev.length, epochs: o.epochs, steps: run.steps, steps_planned: steps,
    best_step: best?.step ?? null, early_stopped: run.earlyStopped, interrupted: run.interrupted, hyperparameters,
    dev: best ? stripStep(best) : null,
    dev_history: run.evals.map((e) => ({ step: e.step, metric: e.metric })),
    first_train_loss: run.losses[0] ?? NaN, final_train_loss_ema: run.lossEma,
    truncated_train_examples: rows.filter((r) => r.truncated).length,
    trainable_parameters: [...params.values()].reduce((s, t) => s + t.size, 0),
    tokens_per_second: run.tokensPerSecond, seconds: (Date.now() - started) / 1000, backend: backendName(),
  };
  return { model, record, losses: run.losses, interrupted: run.interrupted, data };
}

function stripStep(e: { step: number } & PromptEval): PromptEval {
  const { step: _step, ...rest } = e;
  return rest as PromptEval;
}
