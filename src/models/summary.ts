/**
 * The summary position: the token whose last hidden state stands for the
 * whole sequence — what a sequence classifier reads, what the scanner's
 * `cls` mode and the guard's post-monitor watch, and what POR and NeuBA
 * attack. It is a property of the family:
 *   BERT, RoBERTa, ELECTRA, ALBERT, DeBERTa: the first token ([CLS] / <s>).
 *   XLNet: its tokenizer writes A <sep> <cls>, the <cls> last, and
 *     XLNetForSequenceClassification reads hidden_states[:, -1]
 *     (summary_type "last"). HF pads XLNet on the left, so that is the
 *     <cls>; this project pads on the right, and a real token's output does
 *     not depend on where the padding is (relative attention, padded keys
 *     blocked: see xlnet.ts), so the summary is each row's last real token.
 *     summary_type "first" reads token 0, as for the others.
 * Every caller that used to read position 0 for "[CLS]" goes through here.
 */
import type { EncoderConfig } from '../formats/hf-config.js';

type Family = Pick<EncoderConfig, 'modelType' | 'xlnet'>;

/** Whether the family summarises a sequence by its last real token (XLNet with summary_type "last"). */
export function summaryIsLast(c: Family): boolean {
  return c.modelType === 'xlnet' && (c.xlnet?.summaryType ?? 'last') === 'last';
}

/** The summary token's index in one sequence of `length` real tokens (no padding counted). */
export function summaryPosition(c: Family, length: number): number {
  if (!Number.isInteger(length) || length < 1) throw new Error(`summaryPosition: a sequence needs at least one token, got ${length}`);
  return summaryIsLast(c) ? length - 1 : 0;
}

/**
 * Each batch row's summary token in a right-padded batch [B, T]: 0, or
 * (XLNet) the row's last real token by the attention mask (1 = token).
 */
export function summaryPositions(c: Family, mask: ArrayLike<number> | undefined, B: number, T: number): Int32Array {
  const out = new Int32Array(B);
  if (!summaryIsLast(c)) return out;
  if (mask && mask.length !== B * T) throw new Error(`summaryPositions: mask has ${mask.length} entries, expected ${B}×${T}`);
  for (let b = 0; b < B; b++) {
    let last = -1;
    for (let t = 0; t < T; t++) if (!mask || mask[b * T + t]) last = t;
    if (last < 0) throw new Error(`summaryPositions: batch row ${b} has no real token`);
    out[b] = last;
  }
  return out;
}
