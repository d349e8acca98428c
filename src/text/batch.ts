// Right-padding a list of encodings into row-major [batch, seqLen] arrays.
// Batches are padded to their own longest sequence (not to maxLength), which
// is where most of the saving on short sentences comes from.

import type { Encoding } from './tokenizer.js';

/**
 * How training and mining batches are drawn, the same three choices for
 * every command: `length` groups sentences of similar length (batches in a
 * seeded random order; about half the padding), `random` draws seeded
 * random batches, `input` takes consecutive sentences in input order.
 */
export const BATCH_ORDERS = ['length', 'random', 'input'] as const;
export type BatchOrder = (typeof BATCH_ORDERS)[number];

export interface PaddedBatch {
  batchSize: number;
  seqLen: number;
  /** [batchSize * seqLen], row-major, pad id after each sequence. */
  ids: Int32Array;
  /** 1 for real tokens (placeholders included), 0 for padding. */
  attentionMask: Uint8Array;
  tokenTypeIds: Int32Array;
  /** Unpadded length of each row. */
  lengths: Int32Array;
}

export function padBatch(
  encodings: readonly Pick<Encoding, 'ids' | 'attentionMask' | 'tokenTypeIds'>[],
  padId: number,
  o: { padToMultipleOf?: number; minLength?: number } = {},
): PaddedBatch {
  let seqLen = o.minLength ?? 0;
  for (const e of encodings) seqLen = Math.max(seqLen, e.ids.length);
  const m = o.padToMultipleOf ?? 1;
  if (m > 1) seqLen = Math.ceil(seqLen / m) * m;
  const B = encodings.length;
  const ids = new Int32Array(B * seqLen).fill(padId);
  const attentionMask = new Uint8Array(B * seqLen);
  const tokenTypeIds = new Int32Array(B * seqLen);
  const lengths = new Int32Array(B);
  encodings.forEach((e, b) => {
    const off = b * seqLen;
    ids.set(e.ids, off);
    attentionMask.set(e.attentionMask, off);
    tokenTypeIds.set(e.tokenTypeIds, off);
    lengths[b] = e.ids.length;
  });
  return { batchSize: B, seqLen, ids, attentionMask, tokenTypeIds, lengths };
}
