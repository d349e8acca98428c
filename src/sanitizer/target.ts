/**
 * The small interface through which the sanitizer sees a model: embed
 * tokens, run the backbone (models/backbone.ts) on embeddings with a mask,
 * read positions. The scanner knows nothing else about BERT or RoBERTa.
 */
import type { Tensor } from '../engine/index.js';
import type { Backbone } from '../models/backbone.js';

export type TargetMode = 'cls' | 'mask' | 'token' | 'pooler';
export const TARGET_MODES: readonly TargetMode[] = ['cls', 'mask', 'token', 'pooler'];

export interface PlaceholderEncoding {
  ids: number[];
  /** Token indices standing in for the soft-prompt rows, in order. */
  placeholderPositions: number[];
  /** Token index of the first token of each word of the text (placeholders excluded). */
  wordStarts: number[];
}

export interface ScanTarget extends Backbone {
  /** Identifies the weights (sha256 of the weight files); caches are keyed on it. */
  modelHash: string;
  hidden: number;
  vocabSize: number;
  /** Word-embedding matrix [V, E]; the soft prompt lives in its space. */
  wordEmbeddings: Tensor;
  specialIds: { cls: number; sep: number; pad: number; mask: number | null; unk: number };
  /** Special tokens and never-trained rows ([unused…]): prompt init skips them. */
  isSpecialOrUnused(id: number): boolean;
  tokenString(id: number): string;
  /**
   * The `cls` mode's target in a sequence of `length` real tokens: the
   * family's summary token (models/summary.ts) — 0 for [CLS] / <s>, the
   * last token for XLNet's <cls>.
   */
  summaryPosition(length: number): number;
  /** Tokenises text with `count` placeholder tokens before word `insertAtWord`, within maxLen tokens. */
  encodeWithPlaceholders(text: string, insertAtWord: number, count: number, maxLen: number): PlaceholderEncoding;
  wordCount(text: string): number;
}
