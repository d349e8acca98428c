/**
 * The frozen backbone as its users see it — the scanner, the prompt models
 * and the guard: one object-argument forward that reads either one
 * position per row or every token, with optional input embeddings (a soft
 * prompt spliced in) and per-layer prefix keys/values (P-tuning v2).
 */
import { reshape, type Tensor } from '../engine/index.js';
import type { Encoder } from './encoder.js';

export interface BackboneInput {
  batch: number;
  seqLen: number;
  /** Token ids, B·T; still needed with `embeds` (RoBERTa numbers positions from them). */
  ids: Int32Array;
  /** 1 attends, 0 is padding; B·T. */
  mask: ArrayLike<number>;
  /** Segment ids, B·T (sentence pairs); default all 0. */
  tokenTypes?: Int32Array;
  /** [B, T, E]: replaces the word-embedding lookup (soft prompts). */
  embeds?: Tensor;
  /** Per-layer prefix rows in key space, [B, P, H] each (P-tuning v2). */
  prefix?: { keys: Tensor[]; values: Tensor[] };
  /**
   * One token index per row: `hidden` is then [B, H] and the last layer
   * computes only those rows. Omitted: every token, [B, T, H].
   */
  positions?: Int32Array;
  /** Also return the pooler output [B, H] (its position is token 0). */
  pooler?: boolean;
  /** Enables dropout inside the backbone with this seed; omitted = inference. */
  dropoutSeed?: number;
}

export interface BackboneOutput {
  hidden: Tensor;
  pooler: Tensor | null;
}

export interface Backbone {
  hidden: number;
  /** Word-embedding lookup [B, T, E]. */
  embedIds(ids: Int32Array, batch: number, seqLen: number): Tensor;
  forward(input: BackboneInput): BackboneOutput;
}

export function backboneOf(enc: Encoder): Backbone {
  return {
    hidden: enc.hidden,
    embedIds: (ids, batch, seqLen) => enc.embedIds(ids, batch, seqLen),
    forward(i) {
      const out = enc.forward({
        batch: i.batch, seqLen: i.seqLen, inputIds: i.ids, inputsEmbeds: i.embeds, attentionMask: i.mask, tokenTypeIds: i.tokenTypes,
        prefix: i.prefix, withPooler: i.pooler ?? false, outputPositions: i.positions, dropoutSeed: i.dropoutSeed,
      });
      const hidden = i.positions ? reshape(out.lastHiddenState, [i.batch, enc.hidden]) : out.lastHiddenState;
      return { hidden, pooler: out.poolerOutput };
    },
  };
}
