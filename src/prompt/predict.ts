/**
 * Inference with a prompt model: label probabilities per input (or a tag
 * per word for NER), and the dev/test metrics training selects by. Inputs
 * are run in length-sorted batches (little padding; the order of results
 * is the order of inputs), with no gradients and no dropout.
 */
import { crossEntropy, noGrad, withScope } from '../engine/index.js';
import type { NerSentence, TextExample } from '../text/datasets.js';
import { splitWords } from '../text/words.js';
import { classificationMetrics, seqevalScores } from './metrics.js';
import { padRows, type PromptBatch, type PromptForward, type PromptInput, type PromptModel, type PromptRow } from './model.js';

export interface LabelPrediction {
  label: string;
  /** Index into the model's label names. */
  index: number;
  /** Softmax over the labels, in label order. */
  probs: number[];
}

export interface TagPrediction {
  /** The input's whitespace words. */
  words: string[];
  /** One BIO tag per word; words cut by truncation get "O". */
  tags: string[];
}

export type Prediction = LabelPrediction | TagPrediction;

export interface BatchOptions {
  batchSize?: number;
  /** Sees each batch's forward output while it is alive (the guard reads `hidden` here: no second forward). */
  onBatch?: (b: PromptBatch, out: PromptForward, index: number[]) => void;
}

/** A batch stops growing once its rows would be padded by more than this share (past MIN_BATCH_ROWS rows). */
const MAX_PADDING = 1.25;
const MIN_BATCH_ROWS = 8;

/**
 * Runs `rows` through the model in length-sorted batches of at most
 * `batchSize` rows, each cut where the next row is more than 25% longer
 * than the batch's first (once it has 8 rows): padded tokens cost as much
 * as real ones, so a batch of 16- to 40-token inputs is not all run at 40.
 * `each` sees every batch's forward output (logits and the monitored
 * hidden state) and the original index of each of its rows.
 */
export function forEachBatch(model: PromptModel, rows: readonly PromptRow[], o: BatchOptions, each: (b: PromptBatch, out: PromptForward, index: number[]) => void): void {
  const size = o.batchSize ?? 32;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be a positive integer, got ${size}`);
  const order = Array.from(rows.keys()).sort((a, b) => rows[a]!.ids.length - rows[b]!.ids.length);
  const pad = model.backbone.tokenizer!.specialIds.pad;
  for (let i = 0; i < order.length;) {
    const first = rows[order[i]!]!.ids.length;
    let j = i + 1;
    while (j < order.length && j - i < size && (j - i < MIN_BATCH_ROWS || rows[order[j]!]!.ids.length <= MAX_PADDING * first)) j++;
    const index = order.slice(i, j);
    i = j;
    const batch = padRows(index.map((k) => rows[k]!), pad);
    withScope(() => noGrad(() => {
      const out = model.forward(batch);
      o.onBatch?.(batch, out, index);
      each(batch, out, index);
    }));
  }
}

function softmaxRow(d: ArrayLike<number>, off: number, C: number): number[] {
  let max = -Infinity;
  for (let c = 0; c < C; c++) max = Math.max(max, d[off + c]!);
  const e = Array.from({ length: C }, (_, c) => Math.exp(d[off + c]! - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

function argmax(d: ArrayLike<number>, off: number, C: number): number {
  let best = 0;
  for (let c = 1; c < C; c++) if (d[off + c]! > d[off + best]!) best = c;
  return best;
}

/** Predicts each input: {label, index, probs} for classification; {words, tags} for NER (the text split on whitespace). */
export function predictBatch(model: PromptModel, inputs: readonly PromptInput[], o: BatchOptions = {}): Prediction[] {
  const ner = model.kind === 'ner';
  const words = inputs.map((x) => (ner ? splitWords(x.text) : []));
  const rows = inputs.map((x, i) => (ner ? model.encode({ tokens: words[i]! }) : model.encode({ text: x.text, textB: x.text_pair })));
  const out: Prediction[] = new Array(inputs.length);
  const C = model.labelNames.length;
  forEachBatch(model, rows, o, (b, { logits }, index) => {
    index.forEach((j, r) => {
      if (ner) {
        const tags = rows[j]!.wordStarts!.map((t) => (t < 0 ? 'O' : model.labelNames[argmax(logits.data, (r * b.T + t) * C, C)]!));
        out[j] = { words: words[j]!, tags };
      } else {
        const probs = softmaxRow(logits.data, r * C, C);
        const k = argmax(probs, 0, C);
        out[j] = { label: model.labelNames[k]!, index: k, probs };
      }
    });
  });
  return out;
}

export interface PromptEval {
  /** What early stopping maximises: accuracy (classification) or seqeval micro-F1 (NER). */
  metric: number;
  examples: number;
  loss: number;
  [name: string]: number;
}

/** Metrics on labelled examples (a dev or test split). */
export function evaluatePrompt(model: PromptModel, examples: readonly (TextExample | NerSentence)[], o: BatchOptions = {}): PromptEval {
  if (examples.length === 0) throw new Error(`${model.task}: nothing to evaluate`);
  const C = model.labelNames.length;
  if (model.kind === 'ner') {
    const sents = examples as NerSentence[];
    const tagIndex = new Map(model.labelNames.map((t, i) => [t, i]));
    const rows = sents.map((s) => model.encode({ tokens: s.tokens, tags: s.tags.map((t) => tagOf(tagIndex, t)) }));
    const pred: string[][] = sents.map((s) => new Array<string>(s.tokens.length).fill('O'));
    let lossSum = 0;
    let scored = 0;
    forEachBatch(model, rows, o, (b, { logits }, index) => {
      const labels = new Int32Array(b.B * b.T).fill(-100);
      index.forEach((j, r) => {
        rows[j]!.tokenLabels!.forEach((l, t) => (labels[r * b.T + t] = l));
        rows[j]!.wordStarts!.forEach((t, w) => {
          if (t >= 0) pred[j]![w] = model.labelNames[argmax(logits.data, (r * b.T + t) * C, C)]!;
        });
      });
      const n = labels.reduce((s, l) => s + (l === -100 ? 0 : 1), 0);
      if (n > 0) {
        lossSum += crossEntropy(logits, labels).item() * n;
        scored += n;
      }
    });
    const s = seqevalScores(sents.map((x) => x.tags), pred);
    return { metric: s.f1, examples: sents.length, loss: scored ? lossSum / scored : NaN, f1: s.f1, precision: s.precision, recall: s.recall };
  }
  const texts = examples as TextExample[];
  const rows = texts.map((e) => model.encode({ text: e.text, textB: e.textB, label: e.label }));
  const pred = new Int32Array(texts.length);
  let lossSum = 0;
  forEachBatch(model, rows, o, (b, { logits }, index) => {
    index.forEach((j, r) => (pred[j] = argmax(logits.data, r * C, C)));
    lossSum += crossEntropy(logits, Int32Array.from(index, (j) => rows[j]!.label!)).item() * b.B;
  });
  const m = classificationMetrics(Int32Array.from(texts, (e) => e.label), pred, C);
  return { metric: m.accuracy, examples: m.examples, loss: lossSum / texts.length, accuracy: m.accuracy, macro_f1: m.macroF1 };
}

function tagOf(index: Map<string, number>, tag: string): number {
  const i = index.get(tag);
  if (i === undefined) throw new Error(`tag "${tag}" is not one of the model's tags (${[...index.keys()].join(', ')})`);
  return i;
}
