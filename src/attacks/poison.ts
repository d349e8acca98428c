/**
 * Poisoned text (docs/algorithm.md#predefined-vectors-and-triggers): the trigger goes in at random
 * word positions, one insertion per `inter` words and at least one. Single
 * tokens that are not words (BToP's [MASK], the rare tokens of the
 * specificity set) are spliced in at the token level, before a word's first
 * token, so that no tokenizer has to recognise them in text.
 */
import type { TextTokenizer } from '../text/tokenizer.js';
import type { Rng } from '../text/random.js';
import { insertWords } from '../text/words.js';

/** Number of trigger insertions for a sentence of n words. */
export function insertionCount(nWords: number, inter: number): number {
  return Math.max(1, Math.floor(nWords / inter));
}

/** `words` with `trigger` (one or more words) inserted insertionCount() times at random word positions. */
export function insertTrigger(words: readonly string[], trigger: readonly string[], inter: number, rng: Rng): string[] {
  let out = words.slice();
  const n = insertionCount(words.length, inter);
  for (let i = 0; i < n; i++) out = insertWords(out, rng.int(out.length + 1), trigger);
  return out;
}

/** Token ids of a sentence with the word each came from (null: special or spliced token). */
export interface TokenRow {
  ids: number[];
  wordIds: (number | null)[];
}

/** Number of special tokens the tokenizer adds to one sentence ([CLS] … [SEP] → 2). */
export function specialsPerSentence(tok: TextTokenizer): number {
  return tok.encodeWords([]).ids.length;
}

/**
 * The longest prefix of `words` whose encoding leaves `reserve` free tokens
 * under maxLen, so that later insertions are never cut by truncation.
 */
export function fitWords(tok: TextTokenizer, words: readonly string[], maxLen: number, reserve: number): string[] {
  let budget = maxLen - specialsPerSentence(tok) - reserve;
  let n = 0;
  for (; n < words.length; n++) {
    budget -= tok.wordPieces(words[n], n > 0).length;
    if (budget < 0) break;
  }
  return n === words.length ? words.slice() : words.slice(0, n);
}

export function encodeRow(tok: TextTokenizer, words: readonly string[], maxLen: number): TokenRow {
  const e = tok.encodeWords(words, null, { maxLength: maxLen });
  return { ids: e.ids, wordIds: e.wordIds };
}

/** Token index where word `at` starts; `at` = #words gives the position of the closing special token. */
export function wordStartToken(row: TokenRow, at: number): number {
  const i = row.wordIds.findIndex((w) => w !== null && w >= at);
  if (i >= 0) return i;
  // After the last word: just past the last word token (before [SEP] / </s>).
  let last = -1;
  row.wordIds.forEach((w, j) => { if (w !== null) last = j; });
  return last >= 0 ? last + 1 : 1;
}

/** Number of distinct words present in the row. */
export function wordCount(row: TokenRow): number {
  let max = -1;
  for (const w of row.wordIds) if (w !== null && w > max) max = w;
  return max + 1;
}

/** Splices token `id` in before word `at`; returns the new row and the token's position. */
export function insertToken(row: TokenRow, at: number, id: number): { row: TokenRow; pos: number } {
  const pos = wordStartToken(row, at);
  const ids = [...row.ids.slice(0, pos), id, ...row.ids.slice(pos)];
  const wordIds = [...row.wordIds.slice(0, pos), null, ...row.wordIds.slice(pos)];
  return { row: { ids, wordIds }, pos };
}

/** Splices `id` in before a uniformly random word (or at the end). */
export function insertTokenRandomly(row: TokenRow, id: number, rng: Rng): { row: TokenRow; pos: number } {
  return insertToken(row, rng.int(wordCount(row) + 1), id);
}
