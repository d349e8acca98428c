/**
 * One encoder for the BERT family (BERT, ERNIE-2.0) and RoBERTa, with
 * Hugging Face's parameter names (without the `bert.`/`roberta.` prefix):
 *   embeddings.{word,position,token_type}_embeddings.weight, embeddings.LayerNorm.*
 *   encoder.layer.{i}.attention.self.{query,key,value}.*
 *   encoder.layer.{i}.attention.output.{dense,LayerNorm}.*
 *   encoder.layer.{i}.intermediate.dense.*, encoder.layer.{i}.output.{dense,LayerNorm}.*
 *   pooler.dense.*
 * Shapes: B = batch, T = sequence length, H = hidden size, P = prefix rows.
 */
import {
  add, addLayerNorm, attention, concatSeq, dropout, embedding, gatherRows, layerNorm, linear, linearGelu, reshape, tanh, Tensor,
} from '../engine/index.js';
import { type EncoderConfig, usablePositions } from '../formats/hf-config.js';
import { Rng } from '../text/random.js';

/** Additive mask value for blocked keys; finite so a masked score never becomes NaN. */
export const MASK_NEG = -1e9;

export interface EncoderInput {
  batch: number;
  seqLen: number;
  /** Token ids, B·T. Needed unless inputsEmbeds is given. */
  inputIds?: Int32Array;
  /** Replaces the word-embedding lookup ([B, T, H]); position/type embeddings are still added. */
  inputsEmbeds?: Tensor;
  /** 1 attends, 0 is padding; B·T (default: all ones). */
  attentionMask?: ArrayLike<number>;
  tokenTypeIds?: Int32Array;
  /** Per-layer prefix key/value rows in key space, [B, P, H] each (P-tuning v2). */
  prefix?: { keys: Tensor[]; values: Tensor[] };
  outputHiddenStates?: boolean;
  /** Enables dropout (training) with this seed; omitted = inference. */
  dropoutSeed?: number;
  /** Skip the pooler when the caller does not need it. */
  withPooler?: boolean;
  /**
   * One token index per batch row: the last layer computes only these rows
   * and lastHiddenState is [B, 1, H]. A scan reads one position per
   * sentence, and the last layer's queries, residuals and feed-forward
   * block on the other rows would be thrown away (about a fifth of a
   * 4-layer model's work, forward and backward).
   */
  outputPositions?: Int32Array;
  /**
   * Flat rows (b·T + t), strictly ascending, any number per batch row: the
   * last layer computes only these rows (its keys and values still use
   * every row) and lastHiddenState is [rows.length, H]. An MLM step reads
   * only its masked positions, ~15% of the rows, so the last layer's
   * queries, attention output, residuals and feed-forward block on the rest
   * are skipped (bert-mini MLM step: 35.2 → 30.2 GEMM GFLOP). No pooler.
   */
  outputRows?: Int32Array;
}

export interface EncoderOutput {
  lastHiddenState: Tensor;
  poolerOutput: Tensor | null;
  /** Embedding output followed by each layer's output, when asked for. */
  hiddenStates?: Tensor[];
}

export function layerParamNames(i: number): string[] {
  const p = `encoder.layer.${i}.`;
  const lin = (n: string) => [`${p}${n}.weight`, `${p}${n}.bias`];
  return [
    ...lin('attention.self.query'), ...lin('attention.self.key'), ...lin('attention.self.value'),
    ...lin('attention.output.dense'), ...lin('attention.output.LayerNorm'),
    ...lin('intermediate.dense'), ...lin('output.dense'), ...lin('output.LayerNorm'),
  ];
}

/** Every parameter name and shape the config implies (pooler included). */
export function encoderParamShapes(c: EncoderConfig): Map<string, number[]> {
  const H = c.hiddenSize;
  const F = c.intermediateSize;
  const m = new Map<string, number[]>([
    ['embeddings.word_embeddings.weight', [c.vocabSize, H]],
    ['embeddings.position_embeddings.weight', [c.maxPositionEmbeddings, H]],
    ['embeddings.token_type_embeddings.weight', [c.typeVocabSize, H]],
    ['embeddings.LayerNorm.weight', [H]],
    ['embeddings.LayerNorm.bias', [H]],
  ]);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `encoder.layer.${i}.`;
    for (const n of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) {
      m.set(`${p}${n}.weight`, [H, H]);
      m.set(`${p}${n}.bias`, [H]);
    }
    m.set(`${p}intermediate.dense.weight`, [F, H]);
    m.set(`${p}intermediate.dense.bias`, [F]);
    m.set(`${p}output.dense.weight`, [H, F]);
    m.set(`${p}output.dense.bias`, [H]);
    for (const n of ['attention.output.LayerNorm', 'output.LayerNorm']) {
      m.set(`${p}${n}.weight`, [H]);
      m.set(`${p}${n}.bias`, [H]);
    }
  }
  m.set('pooler.dense.weight', [H, H]);
  m.set('pooler.dense.bias', [H]);
  return m;
}

/** BERT's initialisation: N(0, initializer_range) weights, zero biases, unit LayerNorm. */
export function initParam(name: string, shape: number[], std: number, rng: Rng): Tensor {
  const t = Tensor.zeros(shape, { name });
  if (name.endsWith('LayerNorm.weight') || name.endsWith('layer_norm.weight')) t.data.fill(1);
  else if (!name.endsWith('bias')) for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * std;
  return t;
}

export interface LayerWeights {
  q: [Tensor, Tensor];
  k: [Tensor, Tensor];
  v: [Tensor, Tensor];
  attnOut: [Tensor, Tensor];
  attnLn: [Tensor, Tensor];
  inter: [Tensor, Tensor];
  out: [Tensor, Tensor];
  outLn: [Tensor, Tensor];
}

export interface LayerOptions {
  heads: number;
  eps: number;
  mask: Float32Array | null;
  prefix?: { key: Tensor; value: Tensor };
  /** Hidden dropout (identity at inference). */
  drop?: (x: Tensor) => Tensor;
  /**
   * The hidden dropout as the fused residual + LayerNorm takes it: each call
   * draws the next seed (as `drop` would when applied), or returns null for
   * none. Preferred over `drop` when given.
   */
  hiddenDropout?: () => { p: number; seed: number } | null;
  attentionDropout?: { p: number; seed: number } | null;
  /** Flat rows (b·T + t) of h, the same count per batch row, that need an output; keys and values still use every row. */
  queryRows?: Int32Array;
  /** Flat rows of h, ascending, any count per batch row (offsets: B + 1, batch row b's are rows [off[b], off[b+1])); the output is [rows.length, H]. */
  raggedRows?: { rows: Int32Array; offsets: Int32Array };
}

/**
 * One post-LN transformer layer: self-attention block, then the feed-forward block. h: [B, T, H].
 * Fused where it is the same computation: dropout + residual + LayerNorm in
 * one op (addLayerNorm), the intermediate dense's bias + GELU in one
 * (linearGelu).
 */
/** Keys and values [B, P + T, H]: the layer's projections of h, after the P-tuning v2 prefix rows when there are any. */
function keysValues(L: LayerWeights, h: Tensor, prefix: LayerOptions['prefix']): { k: Tensor; v: Tensor } {
  const k = linear(h, ...L.k);
  const v = linear(h, ...L.v);
  return prefix ? { k: concatSeq(prefix.key, k), v: concatSeq(prefix.value, v) } : { k, v };
}

export function layerForward(L: LayerWeights, h: Tensor, o: LayerOptions): Tensor {
  if (!o.drop || o.hiddenDropout || o.raggedRows) return layerForwardFused(L, h, o);
  const drop = o.drop;
  const { k, v } = keysValues(L, h, o.prefix);
  const [B, T, H] = h.shape;
  const hq = o.queryRows ? reshape(gatherRows(reshape(h, [B * T, H]), o.queryRows), [B, o.queryRows.length / B, H]) : h;
  const ctx = attention(linear(hq, ...L.q), k, v, { heads: o.heads, mask: o.mask, dropout: o.attentionDropout });
  const a = layerNorm(add(drop(linear(ctx, ...L.attnOut)), hq), ...L.attnLn, o.eps);
  const f = linear(linearGelu(a, ...L.inter), ...L.out);
  return layerNorm(add(drop(f), a), ...L.outLn, o.eps);
}

function layerForwardFused(L: LayerWeights, h: Tensor, o: LayerOptions): Tensor {
  const dropSpec = o.hiddenDropout ?? (() => null);
  const { k, v } = keysValues(L, h, o.prefix);
  const [B, T, H] = h.shape;
  const ragged = o.raggedRows;
  const hq = ragged
    ? gatherRows(reshape(h, [B * T, H]), ragged.rows)
    : o.queryRows ? reshape(gatherRows(reshape(h, [B * T, H]), o.queryRows), [B, o.queryRows.length / B, H]) : h;
  const ctx = attention(linear(hq, ...L.q), k, v, { heads: o.heads, mask: o.mask, dropout: o.attentionDropout, queryOffsets: ragged?.offsets });
  const a = addLayerNorm(linear(ctx, ...L.attnOut), hq, ...L.attnLn, o.eps, dropSpec());
  const f = linear(linearGelu(a, ...L.inter), ...L.out);
  return addLayerNorm(f, a, ...L.outLn, o.eps, dropSpec());
}

export class Encoder {
  readonly layers: LayerWeights[];
  /** Whether the checkpoint had a pooler (HF drops it for some MLM-only saves). */
  readonly hasPooler: boolean;

  constructor(readonly config: EncoderConfig, readonly params: Map<string, Tensor>) {
    const shapes = encoderParamShapes(config);
    this.hasPooler = params.has('pooler.dense.weight');
    for (const [name, shape] of shapes) {
      if (name.startsWith('pooler.') && !this.hasPooler) continue;
      const t = params.get(name);
      if (!t) throw new Error(`missing parameter "${name}" (expected shape [${shape.join(', ')}])`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`parameter "${name}" has shape [${t.shape.join(', ')}] but config.json implies [${shape.join(', ')}]`);
      }
    }
    const get = (n: string) => params.get(n)!;
    const pair = (n: string): [Tensor, Tensor] => [get(`${n}.weight`), get(`${n}.bias`)];
    this.layers = Array.from({ length: config.numHiddenLayers }, (_, i) => {
      const p = `encoder.layer.${i}.`;
      return {
        q: pair(`${p}attention.self.query`),
        k: pair(`${p}attention.self.key`),
        v: pair(`${p}attention.self.value`),
        attnOut: pair(`${p}attention.output.dense`),
        attnLn: pair(`${p}attention.output.LayerNorm`),
        inter: pair(`${p}intermediate.dense`),
        out: pair(`${p}output.dense`),
        outLn: pair(`${p}output.LayerNorm`),
      };
    });
  }

  /** A freshly initialised encoder (seeded). */
  static init(config: EncoderConfig, seed: number): Encoder {
    const rng = new Rng(seed);
    const params = new Map<string, Tensor>();
    for (const [name, shape] of encoderParamShapes(config)) params.set(name, initParam(name, shape, config.initializerRange, rng));
    return new Encoder(config, params);
  }

  get wordEmbeddings(): Tensor {
    return this.params.get('embeddings.word_embeddings.weight')!;
  }

  get hidden(): number {
    return this.config.hiddenSize;
  }

  /** Freezes (false) or unfreezes every encoder parameter. */
  setTrainable(on: boolean): void {
    for (const t of this.params.values()) t.requiresGrad = on;
  }

  /** Word-embedding lookup only, [B, T, H] (the scanner splices prompts into it). */
  embedIds(ids: Int32Array, batch: number, seqLen: number): Tensor {
    return embedding(ids, [batch, seqLen], this.wordEmbeddings);
  }

  /**
   * Position ids as HF computes them. With P prefix rows (P-tuning v2's
   * past key/values) positions start after the prefix, as in HF. RoBERTa
   * counts past padding_idx and pads keep padding_idx.
   */
  positionIds(input: EncoderInput, P = 0): Int32Array {
    const { batch: B, seqLen: T } = input;
    const pos = new Int32Array(B * T);
    if (this.config.modelType !== 'roberta') {
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = P + t;
      return pos;
    }
    const pad = this.config.padTokenId ?? 1;
    for (let b = 0; b < B; b++) {
      let run = 0;
      for (let t = 0; t < T; t++) {
        // With ids, pad tokens are found by id (as HF); with embeddings, HF numbers positions sequentially.
        const isPad = input.inputIds ? input.inputIds[b * T + t] === pad : false;
        pos[b * T + t] = isPad ? pad : pad + P + ++run;
      }
    }
    return pos;
  }

  forward(input: EncoderInput): EncoderOutput {
    const c = this.config;
    const { batch: B, seqLen: T } = input;
    const H = c.hiddenSize;
    const maxT = usablePositions(c);
    const prefixLen = input.prefix?.keys[0]?.shape[1] ?? 0;
    if (T + prefixLen > maxT) {
      throw new Error(`sequence length ${T}${prefixLen ? ` + prefix ${prefixLen}` : ''} exceeds the model's position table (${maxT} usable positions)`);
    }
    let seedCounter = 0;
    const train = input.dropoutSeed !== undefined;
    const nextSeed = () => ((input.dropoutSeed! * 1000003) ^ Math.imul(++seedCounter, 0x9e3779b1)) >>> 0;
    const drop = (x: Tensor) => (train && c.hiddenDropoutProb > 0 ? dropout(x, c.hiddenDropoutProb, nextSeed()) : x);
    // The layers' hidden dropout as the fused residual + LayerNorm takes it: the same seeds in the same order.
    const hiddenDropout = () => (train && c.hiddenDropoutProb > 0 ? { p: c.hiddenDropoutProb, seed: nextSeed() } : null);

    let words: Tensor;
    if (input.inputsEmbeds) {
      const s = input.inputsEmbeds.shape;
      if (s.length !== 3 || s[0] !== B || s[1] !== T || s[2] !== H) {
        throw new Error(`inputsEmbeds must be [${B}, ${T}, ${H}], got [${s.join(', ')}]`);
      }
      words = input.inputsEmbeds;
    } else if (input.inputIds) {
      words = this.embedIds(input.inputIds, B, T);
    } else {
      throw new Error('encoder: give inputIds or inputsEmbeds');
    }
    const P = input.prefix ? input.prefix.keys[0]?.shape[1] ?? 0 : 0;
    const posIds = this.positionIds(input, P);
    const typeIds = input.tokenTypeIds ?? new Int32Array(B * T);
    let h = add(add(words, embedding(posIds, [B, T], this.params.get('embeddings.position_embeddings.weight')!)),
      embedding(typeIds, [B, T], this.params.get('embeddings.token_type_embeddings.weight')!));
    h = drop(layerNorm(h, this.params.get('embeddings.LayerNorm.weight')!, this.params.get('embeddings.LayerNorm.bias')!, c.layerNormEps));

    if (input.prefix && (input.prefix.keys.length !== c.numHiddenLayers || input.prefix.values.length !== c.numHiddenLayers)) {
      throw new Error(`prefix needs ${c.numHiddenLayers} key and value tensors, one per layer`);
    }
    const mask = this.additiveMask(input.attentionMask, B, T, P);
    const hiddenStates: Tensor[] | undefined = input.outputHiddenStates ? [h] : undefined;
    const eps = c.layerNormEps;
    const attnDrop = train && c.attentionProbsDropoutProb > 0;

    const outRows = this.outputRows(input.outputPositions, B, T);
    const ragged = this.raggedRows(input.outputRows, B, T);
    if (ragged && outRows) throw new Error('give outputPositions or outputRows, not both');
    if (ragged && (input.withPooler ?? true) && this.hasPooler) throw new Error('outputRows computes no pooler; pass withPooler: false');
    const last = this.layers.length - 1;
    this.layers.forEach((L, i) => {
      h = layerForward(L, h, {
        queryRows: i === last ? outRows : undefined,
        raggedRows: i === last ? ragged : undefined,
        heads: c.numAttentionHeads,
        eps,
        mask,
        prefix: input.prefix ? { key: input.prefix.keys[i], value: input.prefix.values[i] } : undefined,
        hiddenDropout,
        attentionDropout: attnDrop ? { p: c.attentionProbsDropoutProb, seed: nextSeed() } : null,
      });
      hiddenStates?.push(h);
    });
    if (ragged && this.layers.length === 0) h = gatherRows(reshape(h, [B * T, H]), ragged.rows);

    let pooler: Tensor | null = null;
    if ((input.withPooler ?? true) && this.hasPooler) {
      if (outRows && input.outputPositions!.some((t) => t !== 0)) throw new Error('the pooler reads position 0; outputPositions must all be 0 when it is asked for');
      const Tout = h.shape[1];
      const first = gatherRows(reshape(h, [B * Tout, H]), Int32Array.from({ length: B }, (_, b) => b * Tout));
      pooler = tanh(linear(first, this.params.get('pooler.dense.weight')!, this.params.get('pooler.dense.bias')!));
    }
    return { lastHiddenState: h, poolerOutput: pooler, hiddenStates };
  }

  private raggedRows(rows: Int32Array | undefined, B: number, T: number): { rows: Int32Array; offsets: Int32Array } | undefined {
    if (!rows) return undefined;
    const offsets = new Int32Array(B + 1);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (!Number.isInteger(r) || r < 0 || r >= B * T) throw new Error(`outputRows[${i}] = ${r} is outside the batch's ${B * T} rows`);
      if (i > 0 && r <= rows[i - 1]!) throw new Error(`outputRows must be strictly ascending (entry ${i}: ${r} after ${rows[i - 1]})`);
      offsets[Math.floor(r / T) + 1]!++;
    }
    for (let b = 0; b < B; b++) offsets[b + 1]! += offsets[b]!;
    return { rows, offsets };
  }

  private outputRows(positions: Int32Array | undefined, B: number, T: number): Int32Array | undefined {
    if (!positions) return undefined;
    if (positions.length !== B) throw new Error(`outputPositions has ${positions.length} entries, expected one per batch row (${B})`);
    return Int32Array.from(positions, (t, b) => {
      if (!Number.isInteger(t) || t < 0 || t >= T) throw new Error(`outputPositions[${b}] = ${t} is outside the sequence (0…${T - 1})`);
      return b * T + t;
    });
  }

  private additiveMask(attentionMask: ArrayLike<number> | undefined, B: number, T: number, P: number): Float32Array | null {
    if (!attentionMask && P === 0) return null;
    if (attentionMask && attentionMask.length !== B * T) {
      throw new Error(`attentionMask has ${attentionMask.length} entries, expected batch×seqLen = ${B * T}`);
    }
    const Tk = P + T;
    const m = new Float32Array(B * Tk);
    if (attentionMask) {
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) if (!attentionMask[b * T + t]) m[b * Tk + P + t] = MASK_NEG;
      }
    }
    return m;
  }
}
