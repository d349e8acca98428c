/**
 * P-tuning v2 (Liu et al., 2022; prefix tuning for encoders): trainable
 * key/value rows prepended in every layer's self-attention, with dropout
 * on them in training, and a linear task head:
 *   sequence classification  on the last hidden state at the summary token ([CLS] / <s>; XLNet: its last, <cls>)
 *   token classification     on the last hidden state at every token (NER, BIO tags)
 * P-tuning v2's own BERT code reads the pooler; here the head reads the
 * first token's last hidden state, because that is the vector the guard
 * monitors, and the pooler (a further trained tanh layer) would put a layer
 * between the backdoor and the logits that the guard does not see.
 *
 * The rows are stored as PEFT stores PREFIX_TUNING: one [P, 2·L·H] matrix
 * whose row p, viewed as [2L, heads, head_dim] and permuted as
 * PeftModel.get_prompt does, holds layer l's key at 2l and value at 2l + 1.
 * Since heads·head_dim = H in the order HF splits heads, layer l's key rows
 * are columns [2l·H, (2l+1)·H) and its values the next H columns.
 */
import { dropout, expandBatch, gatherRows, linear, reshape, Tensor } from '../engine/index.js';
import { initParam } from '../models/encoder.js';
import { backboneOf } from '../models/backbone.js';
import { summaryIsLast, summaryPositions } from '../models/summary.js';
import type { LoadedModel } from '../models/model.js';
import { Rng } from '../text/random.js';
import {
  type PromptBatch, type PromptExample, type PromptForward, type PromptInfo, type PromptModel, type PromptRow, } from './model.js';
import { foldRows, normalRows, plainRows, projectedRows, type PromptRows } from './reparam.js';
import { isPromptTask, type PromptTask, taskKind, taskLabelNames } from './tasks.js';
import { usablePositions } from '../formats/hf-config.js';

export interface PrefixTuningOptions {
  task: PromptTask;
  prefixLen: number;
  /** Train the prefix through PEFT's/P-tuning v2's prefix projection with this hidden size. */
  reparamHidden?: number;
  maxLen: number;
  seed: number;
}

export const HEAD_WEIGHT = 'classifier.weight';
export const HEAD_BIAS = 'classifier.bias';

export class PrefixTuningModel implements PromptModel {
  readonly method = 'ptuning-v2' as const;
  readonly kind: 'classification' | 'ner';
  readonly labelNames: readonly string[];
  readonly maxLen: number;
  readonly info: PromptInfo;
  readonly prefixLen: number;

  constructor(
    readonly backbone: LoadedModel, readonly task: PromptTask, private rows: PromptRows,
    readonly head: { weight: Tensor; bias: Tensor }, maxLen: number,
  ) {
    if (!isPromptTask(task)) throw new Error(`unknown prompt task "${task}"`);
    if (!backbone.tokenizer) throw new Error(`${backbone.dir ?? 'backbone'}: P-tuning v2 needs the backbone's tokenizer`);
    const c = backbone.config;
    this.kind = taskKind(task);
    this.labelNames = taskLabelNames(task);
    const W = 2 * c.numHiddenLayers * c.hiddenSize;
    if (rows.shape[1] !== W) throw new Error(`P-tuning v2: prefix rows are [${rows.shape.join(', ')}], this backbone needs [P, ${W}] (2 × ${c.numHiddenLayers} layers × ${c.hiddenSize})`);
    const C = this.labelNames.length;
    const shapeOk = (t: Tensor, s: number[]) => t.shape.length === s.length && t.shape.every((d, i) => d === s[i]);
    if (!shapeOk(head.weight, [C, c.hiddenSize]) || !shapeOk(head.bias, [C])) {
      throw new Error(`P-tuning v2 ${task}: the head is [${head.weight.shape.join(', ')}] + [${head.bias.shape.join(', ')}], expected [${C}, ${c.hiddenSize}] + [${C}]`);
    }
    head.weight.name = HEAD_WEIGHT;
    head.bias.name = HEAD_BIAS;
    this.prefixLen = rows.shape[0]!;
    // HF numbers the input's positions after the prefix, so the prefix uses up position rows.
    this.maxLen = Math.min(maxLen, usablePositions(c) - this.prefixLen);
    if (this.maxLen < 3) throw new Error(`P-tuning v2: a prefix of ${this.prefixLen} leaves ${this.maxLen} of the backbone's ${usablePositions(c)} positions for the input`);
    this.info = {
      prefixLength: this.prefixLen,
      numVirtualTokens: this.prefixLen,
      reparam: rows.reparam,
      head: this.kind === 'ner'
        ? 'linear on the last hidden state of every token (first piece of each word scored)'
        : `linear on the last hidden state at the ${summaryIsLast(c) ? 'last token (XLNet\'s <cls>)' : 'first token'} (not the pooler)`,
      warnings: [],
    };
  }

  /** Fresh prefix (torch.nn.Embedding's N(0, 1), as P-tuning v2's prefix encoder) and head (HF's N(0, initializer_range), zero bias). */
  static create(backbone: LoadedModel, o: PrefixTuningOptions): PrefixTuningModel {
    const c = backbone.config;
    if (!Number.isInteger(o.prefixLen) || o.prefixLen < 1) throw new RangeError(`prefix length must be a positive integer, got ${o.prefixLen}`);
    const W = 2 * c.numHiddenLayers * c.hiddenSize;
    const rows = o.reparamHidden !== undefined
      ? projectedRows(o.prefixLen, c.hiddenSize, W, o.reparamHidden, `${o.seed}:prefix:projection`)
      : plainRows(normalRows(o.prefixLen, W, new Rng(`${o.seed}:prefix:init`), 'prompt_embeddings'));
    const C = taskLabelNames(o.task).length;
    const rng = new Rng(`${o.seed}:prefix:head`);
    const head = { weight: initParam(HEAD_WEIGHT, [C, c.hiddenSize], c.initializerRange, rng), bias: initParam(HEAD_BIAS, [C], c.initializerRange, rng) };
    return new PrefixTuningModel(backbone, o.task, rows, head, o.maxLen);
  }

  trainable(): Map<string, Tensor> {
    return new Map([...this.rows.params, [HEAD_WEIGHT, this.head.weight], [HEAD_BIAS, this.head.bias]]);
  }

  saved(): Map<string, Tensor> {
    const rows = this.rows.reparam ? foldRows(this.rows) : this.rows.params.get('prompt_embeddings')!;
    return new Map([['prompt_embeddings', rows], [HEAD_WEIGHT, this.head.weight], [HEAD_BIAS, this.head.bias]]);
  }

  /** info.reparam keeps saying how the rows were trained. */
  fold(): void {
    if (this.rows.reparam) this.rows = plainRows(foldRows(this.rows));
  }

  encode(e: PromptExample): PromptRow {
    const tok = this.backbone.tokenizer!;
    if ('text' in e) {
      if (this.kind !== 'classification') throw new Error(`${this.task} tags words; give it { tokens }, not { text }`);
      const enc = tok.encode(e.text, e.textB ?? null, { maxLength: this.maxLen });
      return { ids: enc.ids, typeIds: enc.tokenTypeIds, label: e.label, truncated: enc.truncated };
    }
    if (this.kind !== 'ner') throw new Error(`${this.task} classifies text; give it { text }, not { tokens }`);
    const enc = tok.encodeWords(e.tokens, null, { maxLength: this.maxLen });
    const wordStarts = new Array<number>(e.tokens.length).fill(-1);
    enc.wordIds.forEach((w, t) => {
      if (w !== null && wordStarts[w] === -1) wordStarts[w] = t;
    });
    let tokenLabels: number[] | undefined;
    if (e.tags) {
      // P-tuning v2's label_all_tokens = False: only a word's first piece carries its tag.
      tokenLabels = new Array<number>(enc.ids.length).fill(-100);
      wordStarts.forEach((t, w) => {
        if (t >= 0) tokenLabels![t] = e.tags![w]!;
      });
    }
    return { ids: enc.ids, typeIds: enc.tokenTypeIds, wordStarts, tokenLabels, truncated: enc.truncated };
  }

  /** Per-layer prefix keys and values [B, P, H], with independent dropout per element in training (as P-tuning v2 drops the whole past_key_values tensor). */
  prefix(B: number, dropoutSeed?: number): { keys: Tensor[]; values: Tensor[] } {
    const c = this.backbone.config;
    const L = c.numHiddenLayers;
    const H = c.hiddenSize;
    const P = this.prefixLen;
    // [P, 2L·H] viewed as [P·2L, H]: row p·2L + j is slot j (2l key, 2l+1 value) of prefix row p.
    const flat = reshape(this.rows.rows(), [P * 2 * L, H]);
    const slot = (j: number, salt: number): Tensor => {
      const t = expandBatch(gatherRows(flat, Int32Array.from({ length: P }, (_, p) => p * 2 * L + j)), B);
      return dropoutSeed === undefined || c.hiddenDropoutProb === 0 ? t : dropout(t, c.hiddenDropoutProb, (Math.imul(dropoutSeed, 0x85ebca6b) ^ (salt + 1)) >>> 0);
    };
    const keys: Tensor[] = [];
    const values: Tensor[] = [];
    for (let l = 0; l < L; l++) {
      keys.push(slot(2 * l, 2 * l));
      values.push(slot(2 * l + 1, 2 * l + 1));
    }
    return { keys, values };
  }

  forward(b: PromptBatch, o: { dropoutSeed?: number } = {}): PromptForward {
    const enc = this.backbone.encoder;
    const H = enc.hidden;
    const train = o.dropoutSeed !== undefined;
    const p = this.backbone.config.hiddenDropoutProb;
    const headDrop = (t: Tensor) => (train && p > 0 ? dropout(t, p, (o.dropoutSeed! ^ 0x5bd1e995) >>> 0) : t);
    const ner = this.kind === 'ner';
    const out = backboneOf(enc).forward({
      batch: b.B, seqLen: b.T, ids: b.ids, mask: b.mask, tokenTypes: b.typeIds,
      prefix: this.prefix(b.B, o.dropoutSeed),
      // The summary token: the first ([CLS] / <s>), XLNet's last (<cls>).
      positions: ner ? undefined : summaryPositions(this.backbone.config, b.mask, b.B, b.T),
      dropoutSeed: o.dropoutSeed,
    });
    const x = ner ? reshape(out.hidden, [b.B * b.T, H]) : out.hidden;
    return { logits: linear(headDrop(x), this.head.weight, this.head.bias), hidden: out.hidden };
  }
}
