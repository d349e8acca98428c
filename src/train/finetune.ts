/**
 * Clean variants of a pretrained encoder, made the way hub uploads are
 * made: full-model fine-tuning for sequence classification with a fresh
 * head, or continued MLM pretraining on text the base never saw. The
 * detector's false-positive rate is measured on such models, so they must
 * differ from the base in the ordinary ways (all weights moved, a new head).
 */
import { rmSync } from 'node:fs';
import { writeJsonAtomic } from '../formats/file-io.js';
import { join, resolve } from 'node:path';
import { crossEntropy, gatherRows, noGrad, reshape, type Tensor, withScope } from '../engine/index.js';
import { backendName } from '../engine/backend.js';
import { Encoder, initParam, poolerName } from '../models/encoder.js';
import { classifiesFirstToken, MlmHead, SequenceClassificationHead } from '../models/heads.js';
import { summaryPositions } from '../models/summary.js';
import { type LoadedModel, saveModel } from '../models/model.js';
import { nlpCorpusSentences, sampleSentences, splitTrainHeldout, wikitextSentences } from '../text/corpus.js';
import { readTextDataset, type TextExample } from '../text/datasets.js';
import { Rng } from '../text/random.js';
import type { TextTokenizer } from '../text/tokenizer.js';
import { bucketedBatches, epochCache, padBatch } from './batching.js';
import { trainLoop } from './loop.js';
import { type PretrainOptions, trainMlm } from './pretrain.js';
import { usablePositions } from '../formats/hf-config.js';

export const CLASSIFICATION_TASKS = ['sst2', 'ag-news', 'sms-spam'] as const;
export type ClassificationTask = (typeof CLASSIFICATION_TASKS)[number];
export const MLM_CORPORA = ['wikitext', 'nlp-corpus-slice'] as const;
export type MlmCorpus = (typeof MLM_CORPORA)[number];

export function isClassificationTask(t: string): t is ClassificationTask {
  return (CLASSIFICATION_TASKS as readonly string[]).includes(t);
}

export interface TaskData {
  task: string;
  labelNames: readonly string[];
  train: TextExample[];
  dev: TextExample[];
  /** Where train and dev came from, for finetune.json. */
  source: string;
}

export interface TaskDataOptions {
  dataDir?: string;
  /** Training examples drawn (seeded by `seed`, so seeds see different subsets). */
  maxTrain?: number;
  /** Dev examples drawn with a fixed seed, so variants are compared on the same set. */
  maxDev?: number;
  seed: number;
}

// AG News keeps its original CSV escapes ("\n", '\"', a lone "\" for a break).
const unescapeAg = (t: string) => t.replace(/\\n/g, ' ').replace(/\\"/g, '"').replace(/\\/g, ' ');

/**
 * Train and dev examples of a task. SST-2: train.tsv / dev.tsv. AG News:
 * the 5,000-row train sample / test.csv (no dev split ships). SMS spam:
 * one file, split 80/20 with a fixed seed so every variant has the same dev set.
 */
export function loadTaskData(task: string, o: TaskDataOptions): TaskData {
  if (!isClassificationTask(task)) throw new Error(`unknown task "${task}"; choose one of ${CLASSIFICATION_TASKS.join(', ')}, mlm`);
  let train: TextExample[];
  let dev: TextExample[];
  let labelNames: readonly string[];
  let source: string;
  if (task === 'sst2') {
    const tr = readTextDataset('sst2', 'train', o.dataDir);
    dev = readTextDataset('sst2', 'dev', o.dataDir).examples;
    train = tr.examples;
    labelNames = tr.labelNames;
    source = 'sst2 train.tsv / dev.tsv';
  } else if (task === 'ag-news') {
    const tr = readTextDataset('ag-news', 'train', o.dataDir);
    const fix = (e: TextExample) => ({ ...e, text: unescapeAg(e.text) });
    train = tr.examples.map(fix);
    dev = readTextDataset('ag-news', 'test', o.dataDir).examples.map(fix);
    labelNames = tr.labelNames;
    source = 'ag-news train-sample5000-hf.csv / test.csv';
  } else {
    const all = readTextDataset('sms-spam', 'all', o.dataDir);
    const split = splitTrainHeldout(all.examples, { seed: 'sms-spam:dev', heldoutFraction: 0.2 });
    train = split.train;
    dev = split.heldout;
    labelNames = all.labelNames;
    source = 'sms-spam SMSSpamCollection, seeded 80/20 split ("sms-spam:dev")';
  }
  if (o.maxTrain !== undefined && o.maxTrain < train.length) train = sampleSentences(train, o.maxTrain, `${task}:train:${o.seed}`);
  if (o.maxDev !== undefined && o.maxDev < dev.length) dev = sampleSentences(dev, o.maxDev, `${task}:dev`);
  return { task, labelNames, train, dev, source };
}

export interface FinetuneOptions {
  epochs: number;
  /** Stops earlier than `epochs` when reached. */
  maxSteps?: number;
  batchSize: number;
  lr: number;
  warmupFraction: number;
  weightDecay: number;
  clip: number;
  maxLen: number;
  seed: number;
  quiet?: boolean;
  /** Stop at the next step when this returns true; nothing is saved then. */
  shouldStop?: () => boolean;
}

export const FINETUNE_DEFAULTS: Omit<FinetuneOptions, 'seed'> = {
  epochs: 3, batchSize: 32, lr: 1e-4, warmupFraction: 0.06, weightDecay: 0.01, clip: 1.0, maxLen: 128,
};

/**
 * Peak learning rate by model width. The zoo's narrow, briefly pretrained
 * models barely move at BERT-base's 2e-5…1e-4 in a short run (bert-micro,
 * SST-2, 625 steps: 61.8% dev at 1e-4, 77.4% at 5e-4, 78.9% at 1e-3).
 */
export function defaultLr(hiddenSize: number, kind: 'finetune' | 'mlm'): number {
  const H = hiddenSize;
  if (H <= 64) return kind === 'finetune' ? 1e-3 : 5e-4;
  if (H <= 256) return 1e-4;
  return 5e-5;
}

export interface FinetuneResult {
  model: LoadedModel;
  /** What finetune.json holds. */
  record: Record<string, unknown>;
  /** Training loss of every step (empty for continued MLM, whose loop reports an EMA). */
  losses: number[];
  interrupted: boolean;
}

interface Encoded {
  ids: number[];
  label: number;
}

function encodeExamples(tok: TextTokenizer, examples: readonly TextExample[], maxLen: number): Encoded[] {
  return examples.map((e) => ({ ids: tok.encode(e.text, e.textB ?? null, { maxLength: maxLen }).ids, label: e.label }));
}

/**
 * BERT classifies from the pooler. A checkpoint saved without one (HF drops
 * it for some MLM-only saves) gets a freshly initialised pooler, as HF's
 * from_pretrained does for BertForSequenceClassification.
 */
function withPooler(model: LoadedModel, seed: number): Encoder {
  const enc = model.encoder;
  const pooler = poolerName(model.config);
  if (classifiesFirstToken(model.config) || !pooler || enc.hasPooler) return enc;
  const H = model.config.hiddenSize;
  const rng = new Rng(`${seed}:pooler`);
  const params = new Map(enc.params);
  params.set(`${pooler}.weight`, initParam(`${pooler}.weight`, [H, H], model.config.initializerRange, rng));
  params.set(`${pooler}.bias`, initParam(`${pooler}.bias`, [H], model.config.initializerRange, rng));
  return new Encoder(model.config, params);
}

/** Logits [B, labels] for a padded batch; dropout when a seed is given. */
function classifierLogits(encoder: Encoder, head: SequenceClassificationHead, ids: Int32Array, mask: Float32Array, B: number, T: number, dropoutSeed?: number): Tensor {
  const out = encoder.forward({ batch: B, seqLen: T, inputIds: ids, attentionMask: mask, dropoutSeed, withPooler: head.usesPooler });
  // Without a pooler the head reads the summary token: the first, XLNet's last (models/summary.ts).
  const summary = summaryPositions(encoder.config, mask, B, T);
  const x = head.usesPooler
    ? out.poolerOutput!
    : gatherRows(reshape(out.lastHiddenState, [B * T, encoder.hidden]), Int32Array.from({ length: B }, (_, b) => b * T + summary[b]!));
  return head.forward(x, dropoutSeed === undefined ? undefined : (dropoutSeed ^ 0x5bd1e995) >>> 0);
}

export interface ClassifierEval {
  examples: number;
  accuracy: number;
  /** Accuracy of always predicting the most frequent dev label. */
  majorityAccuracy: number;
  loss: number;
}

/** Dev accuracy and mean cross-entropy (no dropout, no gradients). */
export function evaluateClassifier(
  model: LoadedModel, examples: readonly TextExample[], maxLen: number, batchSize = 64,
): ClassifierEval {
  const tok = model.tokenizer;
  const head = model.sequenceClassifier;
  if (!tok || !head) throw new Error('evaluateClassifier needs a tokenizer and a sequence-classification head');
  const rows = encodeExamples(tok, examples, maxLen);
  // Sorted by length so batches carry little padding; order does not change the result.
  const order = Array.from(rows.keys()).sort((a, b) => rows[a].ids.length - rows[b].ids.length);
  let correct = 0;
  let lossSum = 0;
  for (let i = 0; i < order.length; i += batchSize) {
    const idx = order.slice(i, i + batchSize);
    const b = padBatch(idx.map((j) => rows[j].ids), tok.specialIds.pad);
    const labels = Int32Array.from(idx, (j) => rows[j].label);
    withScope(() =>
      noGrad(() => {
        const logits = classifierLogits(model.encoder, head, b.ids, b.mask, b.B, b.T);
        const L = logits.shape[1];
        for (let r = 0; r < b.B; r++) {
          let best = 0;
          for (let c = 1; c < L; c++) if (logits.data[r * L + c] > logits.data[r * L + best]) best = c;
          if (best === labels[r]) correct++;
        }
        lossSum += crossEntropy(logits, labels).item() * b.B;
      }),
    );
  }
  const counts = new Map<number, number>();
  for (const r of rows) counts.set(r.label, (counts.get(r.label) ?? 0) + 1);
  const majority = Math.max(0, ...counts.values());
  const n = rows.length;
  return { examples: n, accuracy: n ? correct / n : 0, majorityAccuracy: n ? majority / n : 0, loss: n ? lossSum / n : NaN };
}

/**
 * Fine-tunes the whole model (encoder and a fresh head) in place on
 * data.train and evaluates on data.dev. The base's MLM head is dropped:
 * a fine-tuned upload carries only its task head.
 */
export function finetuneClassifier(base: LoadedModel, data: TaskData, o: FinetuneOptions): FinetuneResult {
  const tok = base.tokenizer;
  if (!tok) throw new Error(`${base.dir ?? 'model'}: fine-tuning needs the model's tokenizer`);
  if (data.train.length === 0) throw new Error(`${data.task}: no training examples`);
  const maxPos = usablePositions(base.config);
  const maxLen = Math.min(o.maxLen, maxPos);
  const started = Date.now();
  const encoder = withPooler(base, o.seed);
  const numLabels = data.labelNames.length;
  const head = SequenceClassificationHead.init(base.config, numLabels, o.seed * 1009 + 17);
  const config = {
    ...base.config,
    raw: {
      ...base.config.raw,
      id2label: Object.fromEntries(data.labelNames.map((n, i) => [String(i), n])),
      label2id: Object.fromEntries(data.labelNames.map((n, i) => [n, i])),
      finetuning_task: data.task,
    },
  };
  const model: LoadedModel = {
    ...base, config, encoder, mlm: null, sequenceClassifier: head, tokenClassifier: null, tokenizer: tok, hash: '',
  };
  const params = new Map([...encoder.params, ...head.params]);
  const rows = encodeExamples(tok, data.train, maxLen);
  const lengths = rows.map((r) => r.ids.length);
  const perEpoch = Math.ceil(rows.length / o.batchSize);
  const steps = Math.max(1, Math.min(o.maxSteps ?? Infinity, o.epochs * perEpoch));
  const epochBatches = epochCache((epoch) => bucketedBatches(lengths, o.batchSize, new Rng(`${o.seed}:finetune:epoch:${epoch}`)));
  const run = trainLoop({
    label: `finetune ${data.task}`, params, steps, lr: o.lr, warmupFraction: o.warmupFraction, weightDecay: o.weightDecay, clip: o.clip,
    quiet: o.quiet, shouldStop: o.shouldStop,
    batchAt: (step) => {
      const idx = epochBatches(Math.floor(step / perEpoch))[step % perEpoch];
      return { b: padBatch(idx.map((i) => rows[i].ids), tok.specialIds.pad), labels: Int32Array.from(idx, (i) => rows[i].label) };
    },
    lossOf: ({ b, labels }, step) => ({
      loss: crossEntropy(classifierLogits(encoder, head, b.ids, b.mask, b.B, b.T, (o.seed * 7919 + step) >>> 0), labels),
      tokens: b.B * b.T,
    }),
  });
  const { losses, lossEma, interrupted } = run;
  const ev = evaluateClassifier(model, data.dev, maxLen);
  const record = {
    kind: 'finetune',
    task: data.task,
    data: data.source,
    seed: o.seed,
    labels: data.labelNames,
    train_examples: rows.length,
    dev_examples: ev.examples,
    epochs: o.epochs,
    steps: losses.length,
    batch_size: o.batchSize,
    max_len: maxLen,
    lr: o.lr,
    warmup_fraction: o.warmupFraction,
    weight_decay: o.weightDecay,
    clip: o.clip,
    dropout: base.config.hiddenDropoutProb,
    first_train_loss: losses[0],
    final_train_loss_ema: lossEma,
    dev_accuracy: ev.accuracy,
    dev_loss: ev.loss,
    dev_majority_accuracy: ev.majorityAccuracy,
    tokens_per_second: run.tokensPerSecond,
    seconds: (Date.now() - started) / 1000,
    backend: backendName(),
    interrupted,
  };
  return { model, record, losses, interrupted };
}


/**
 * Saves a fine-tuned model (encoder + head, architecture
 * *ForSequenceClassification) and then finetune.json: its presence marks
 * a finished directory.
 */
export function saveFinetuned(outDir: string, r: FinetuneResult, base: LoadedModel): void {
  rmSync(join(outDir, 'finetune.json'), { force: true });
  saveModel(outDir, r.model, { lmsanitator: 'finetune', task: String(r.record.task), seed: String(r.record.seed) });
  writeJsonAtomic(join(outDir, 'finetune.json'), { ...r.record, base: base.dir && resolve(base.dir), base_hash: base.hash });
}

/** Loads the task, fine-tunes and saves; returns finetune.json's content. */
export function finetuneTask(
  base: LoadedModel, task: string, outDir: string, o: FinetuneOptions & { dataDir?: string; maxTrain?: number; maxDev?: number },
): FinetuneResult {
  const data = loadTaskData(task, { dataDir: o.dataDir, maxTrain: o.maxTrain, maxDev: o.maxDev, seed: o.seed });
  const r = finetuneClassifier(base, data, o);
  if (!r.interrupted) saveFinetuned(outDir, r, base);
  return r;
}

// ---------------------------------------------------------------- continued MLM

export interface MlmCorpusData {
  train: string[];
  heldout: string[];
  label: string;
}

/**
 * Text for continued pretraining that the zoo models never trained on:
 * WikiText-2 (valid + test) from the data directory, or the part of
 * nlp-corpus past the zoo's training slice (zooCorpus takes the first
 * 45,000 of the "zoo"-seeded split). The draw is seeded by `seed`.
 */
export function mlmCorpus(corpus: string, o: { dataDir?: string; seed: number; maxTrain: number; heldout: number; zooTrainSentences?: number }): MlmCorpusData {
  if (corpus === 'wikitext') {
    const all = wikitextSentences({ dataDir: o.dataDir });
    const { train, heldout } = splitTrainHeldout(all, { seed: 'wikitext:heldout', heldoutFraction: Math.min(0.5, o.heldout / all.length) });
    return {
      train: sampleSentences(train, o.maxTrain, `wikitext:train:${o.seed}`),
      heldout,
      label: `wikitext-2-raw valid+test (${Math.min(o.maxTrain, train.length)} train, seed ${o.seed} / ${heldout.length} held out)`,
    };
  }
  if (corpus === 'nlp-corpus-slice') {
    const all = nlpCorpusSentences();
    // The same split zooCorpus makes, so "unseen" is exact.
    const zooHeld = 1000;
    const split = splitTrainHeldout(all, { seed: 'zoo', heldoutFraction: zooHeld / all.length });
    const unseen = split.train.slice(o.zooTrainSentences ?? 45000);
    if (unseen.length < o.heldout + 32) throw new Error(`nlp-corpus has only ${unseen.length} sentences past the zoo's training slice`);
    const heldout = unseen.slice(0, o.heldout);
    const rest = unseen.slice(o.heldout);
    return {
      train: sampleSentences(rest, o.maxTrain, `nlp-corpus-slice:${o.seed}`),
      heldout,
      label: `nlp-corpus past the zoo slice (${Math.min(o.maxTrain, rest.length)} train, seed ${o.seed} / ${heldout.length} held out)`,
    };
  }
  throw new Error(`unknown MLM corpus "${corpus}"; choose one of ${MLM_CORPORA.join(', ')}`);
}

export type ContinuedMlmOptions = Omit<PretrainOptions, 'evalSentences'>;

export const CONTINUED_MLM_DEFAULTS: Omit<ContinuedMlmOptions, 'seed'> = {
  steps: 300, batchSize: 32, maxLen: 128, lr: 1e-4, warmupFraction: 0.06, weightDecay: 0.01, clip: 1.0, maskProb: 0.15, checkpointEvery: 100,
};

/**
 * Continued MLM pretraining of `base` on `data`, written to outDir with
 * training.json (from the MLM loop) and finetune.json (kind "mlm"), the
 * latter last. Resumes from outDir's checkpoint when one matches.
 */
export function continueMlm(base: LoadedModel, data: MlmCorpusData, corpus: string, outDir: string, o: ContinuedMlmOptions): FinetuneResult {
  const tok = base.tokenizer;
  if (!tok) throw new Error(`${base.dir ?? 'model'}: continued pretraining needs the model's tokenizer`);
  const maxPos = usablePositions(base.config);
  const mlm = base.mlm ?? MlmHead.init(base.config, base.encoder.wordEmbeddings, o.seed + 1);
  const model: LoadedModel = { ...base, dir: outDir, mlm, hash: '' };
  rmSync(join(outDir, 'finetune.json'), { force: true });
  const res = trainMlm(model, tok, data.train, data.heldout, outDir, { ...o, maxLen: Math.min(o.maxLen, maxPos), evalSentences: data.heldout.length }, data.label, true, {
    tag: 'continued-mlm', idExtra: base.hash || undefined,
  });
  const t = res.training as Record<string, number | string | boolean>;
  const record = {
    kind: 'mlm',
    task: 'mlm',
    corpus,
    data: data.label,
    seed: o.seed,
    steps: t.steps,
    batch_size: o.batchSize,
    max_len: t.max_len,
    lr: o.lr,
    heldout_mlm_accuracy: t.heldout_mlm_accuracy,
    heldout_mlm_loss: t.heldout_mlm_loss,
    unigram_baseline_accuracy: t.unigram_baseline_accuracy,
    final_train_loss_ema: t.final_train_loss_ema,
    tokens_per_second: t.tokens_per_second,
    seconds: t.seconds,
    backend: t.backend,
    interrupted: res.interrupted,
    base: base.dir && resolve(base.dir),
    base_hash: base.hash,
  };
  if (!res.interrupted) writeJsonAtomic(join(outDir, 'finetune.json'), record);
  return { model: res.model, record, losses: [], interrupted: res.interrupted };
}
