/**
 * ONION (Qi et al. 2021, "ONION: A Simple and Effective Defense Against
 * Textual Backdoor Attacks"), the input-purification baseline the
 * LMSanitator paper compares against. For an input with words w_1..w_n the
 * suspicion score of word i is f_i = p_0 − p_i, where p_0 is the perplexity
 * of the sentence and p_i that of the sentence without w_i; words with
 * f_i > bar (ONION's default bar is 0) are deleted and the caller
 * classifies what is left.
 *
 * Adaptation: ONION scores with GPT-2, which this project does not have.
 * The language model here is the backbone's own masked-LM head, and the
 * perplexity is the masked-LM *pseudo-perplexity* (Salazar et al. 2020):
 * mask each non-special token of the sentence in turn (every word piece
 * counts, [CLS]/[SEP]/<s>/</s> are never masked) and take
 * PPPL = exp(−mean_t log p(token_t | rest)). A sentence with no maskable
 * token (the empty string) has PPPL NaN, so the score of deleting the only
 * word of a one-word segment is NaN and that word is never removed.
 *
 * Other choices, none of them in the paper:
 * - Words are the project's whitespace words (src/text/words.ts).
 * - Sentence pairs: each segment is scored as a sentence of its own
 *   ([CLS] segment [SEP]), its words against its own perplexity.
 * - Cost bound: only the first `maxWords` words of a segment (default 64)
 *   are candidates, and the perplexities are those of that window (the
 *   words past it are neither scored nor used as context; they are kept).
 *   Cost per segment is (k + 1) sentences of ≈ L pieces each, i.e. about
 *   (k + 1)·L masked rows for k candidate words and L pieces: n² rows for
 *   an n-word sentence of one-piece words. Candidate sentences of one input
 *   that encode to the same ids (deleting either copy of a repeated word, or
 *   a word with no pieces, whose score is then exactly 0) are run once.
 * - A segment with nothing removed is returned as given; otherwise its kept
 *   words are joined by single spaces.
 *
 * The masked rows of all candidate sentences of a chunk of inputs are run
 * together in length-sorted batches; each forward computes the last layer
 * at the masked position only, and the MLM head runs on those rows only.
 */
import { noGrad, withScope } from '../engine/index.js';
import { usablePositions } from '../formats/hf-config.js';
import { backboneOf } from '../models/backbone.js';
import type { LoadedModel } from '../models/model.js';
import type { TextTokenizer } from '../text/tokenizer.js';
import { joinWords, splitWords } from '../text/words.js';
import { padBatch } from '../train/batching.js';

export interface PpplOptions {
  /** Masked rows per forward (default 64). */
  batchSize?: number;
  /** Tokens per sentence, special tokens included; longer ones are truncated (default: the model's usable positions). */
  maxLength?: number;
}

export interface OnionOptions extends PpplOptions {
  /** Words with suspicion score f_i > bar are removed (ONION's default 0). */
  bar?: number;
  /** Candidate words per segment: the first maxWords (default 64); the rest are kept. */
  maxWords?: number;
}

export interface OnionInput {
  text: string;
  text_pair?: string;
}

export interface OnionResult {
  text: string;
  text_pair?: string;
  /** The removed words, first segment then second, in order. */
  removed: string[];
  /** f_i of the candidate words of the first segment, then of the second (NaN where p_i is undefined). */
  scores: number[];
  /** Masked rows run through the encoder for this input. */
  rows: number;
}

/** One sentence to score: its ids, type ids and the positions that get masked. */
interface Sentence {
  ids: number[];
  typeIds: number[];
  masked: number[];
}

interface Scorer {
  model: LoadedModel;
  tok: TextTokenizer;
  maskId: number;
  batchSize: number;
  maxLength: number;
}

function scorer(model: LoadedModel, o: PpplOptions): Scorer {
  if (!model.mlm) throw new Error("ONION needs the backbone's masked-LM head; this model has none");
  const tok = model.tokenizer;
  if (!tok) throw new Error('ONION needs the model\'s tokenizer; this model was loaded without one');
  const maskId = tok.specialIds.mask;
  if (maskId < 0) throw new Error('ONION needs a mask token; the tokenizer has none');
  const batchSize = o.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  const maxLength = o.maxLength ?? usablePositions(model.config);
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
  return { model, tok, maskId, batchSize, maxLength };
}

function encodeSentence(s: Scorer, words: readonly string[]): Sentence {
  if (words.length === 0) return { ids: [], typeIds: [], masked: [] };
  const e = s.tok.encodeWords(words, null, { maxLength: s.maxLength });
  const masked: number[] = [];
  e.specialTokensMask.forEach((special, t) => { if (!special) masked.push(t); });
  return { ids: e.ids, typeIds: e.tokenTypeIds, masked };
}

/**
 * Σ_t log p(token_t | rest) per sentence, every maskable position masked in
 * turn; the masked copies of all sentences share length-sorted batches.
 */
function sumLogProbs(s: Scorer, sents: readonly Sentence[]): Float64Array {
  const rows: { sent: number; pos: number }[] = [];
  sents.forEach((x, i) => { for (const pos of x.masked) rows.push({ sent: i, pos }); });
  rows.sort((a, b) => sents[a.sent]!.ids.length - sents[b.sent]!.ids.length);
  const sums = new Float64Array(sents.length);
  const backbone = backboneOf(s.model.encoder);
  const mlm = s.model.mlm!;
  const pad = s.tok.specialIds.pad;
  for (let i = 0; i < rows.length; i += s.batchSize) {
    const chunk = rows.slice(i, i + s.batchSize);
    const ids = chunk.map(({ sent, pos }) => {
      const r = sents[sent]!.ids.slice();
      r[pos] = s.maskId;
      return r;
    });
    const b = padBatch(ids, pad, { typeIds: chunk.map(({ sent }) => sents[sent]!.typeIds) });
    const positions = Int32Array.from(chunk, (r) => r.pos);
    withScope(() => noGrad(() => {
      const { hidden } = backbone.forward({ batch: b.B, seqLen: b.T, ids: b.ids, mask: b.mask, tokenTypes: b.typeIds, positions });
      const logits = mlm.forward(hidden);
      const V = logits.shape[1]!;
      const d = logits.data;
      chunk.forEach(({ sent, pos }, r) => {
        const off = r * V;
        let max = -Infinity;
        for (let v = 0; v < V; v++) if (d[off + v]! > max) max = d[off + v]!;
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(d[off + v]! - max);
        sums[sent] += d[off + sents[sent]!.ids[pos]!]! - max - Math.log(z);
      });
    }));
  }
  return sums;
}

function pppl(sum: number, n: number): number {
  return n === 0 ? NaN : Math.exp(-sum / n);
}

/**
 * Masked-LM pseudo-perplexity of each text (one segment each):
 * exp(−mean log p(token | rest)) over its non-special tokens; NaN for a
 * text with none (the empty string).
 */
export function pseudoPerplexity(model: LoadedModel, texts: readonly string[], o: PpplOptions = {}): number[] {
  const s = scorer(model, o);
  const sents = texts.map((t) => encodeSentence(s, splitWords(t)));
  const sums = sumLogProbs(s, sents);
  return sents.map((x, i) => pppl(sums[i]!, x.masked.length));
}

/** Inputs whose candidate sentences are scored together. */
const INPUTS_PER_CHUNK = 16;

interface SegmentPlan {
  words: string[];
  /** Candidate count k (≤ maxWords). */
  k: number;
  /** Index of the window's sentence, then of each deletion's. */
  base: number;
  deletions: number[];
}

/**
 * Purifies each input: per segment, deletes the candidate words whose
 * suspicion score p_0 − p_i exceeds `bar`. The order of results is the
 * order of inputs.
 */
export function onionPurify(model: LoadedModel, inputs: readonly OnionInput[], o: OnionOptions = {}): OnionResult[] {
  const s = scorer(model, o);
  const bar = o.bar ?? 0;
  if (Number.isNaN(bar)) throw new RangeError('bar must be a number, got NaN');
  const maxWords = o.maxWords ?? 64;
  if (!Number.isInteger(maxWords) || maxWords < 0) throw new RangeError(`maxWords must be a non-negative integer, got ${maxWords}`);

  const out: OnionResult[] = [];
  for (let c = 0; c < inputs.length; c += INPUTS_PER_CHUNK) {
    const chunk = inputs.slice(c, c + INPUTS_PER_CHUNK);
    const sents: Sentence[] = [];
    const owner: number[] = [];
    const plans = chunk.map((x, j) => {
      // Sentences of one input that encode alike are scored once.
      const seen = new Map<string, number>();
      const add = (words: string[]): number => {
        const sent = encodeSentence(s, words);
        const key = sent.ids.join(',');
        let idx = seen.get(key);
        if (idx === undefined) {
          idx = sents.length;
          sents.push(sent);
          owner.push(j);
          seen.set(key, idx);
        }
        return idx;
      };
      const segments = x.text_pair === undefined ? [x.text] : [x.text, x.text_pair];
      return segments.map((text): SegmentPlan => {
        const words = splitWords(text);
        const k = Math.min(words.length, maxWords);
        if (k === 0) return { words, k, base: -1, deletions: [] };
        const window = words.slice(0, k);
        const base = add(window);
        const deletions = window.map((_, i) => add([...window.slice(0, i), ...window.slice(i + 1)]));
        return { words, k, base, deletions };
      });
    });
    const sums = sumLogProbs(s, sents);
    const p = sents.map((x, i) => pppl(sums[i]!, x.masked.length));
    const rows = new Array<number>(chunk.length).fill(0);
    sents.forEach((x, i) => { rows[owner[i]!] += x.masked.length; });

    chunk.forEach((x, j) => {
      const removed: string[] = [];
      const scores: number[] = [];
      const texts = plans[j]!.map((plan, seg) => {
        const original = seg === 0 ? x.text : x.text_pair!;
        if (plan.k === 0) return original;
        const f = plan.deletions.map((d) => p[plan.base]! - p[d]!);
        scores.push(...f);
        const drop = f.map((v) => v > bar);
        if (!drop.includes(true)) return original;
        plan.words.forEach((w, i) => { if (drop[i]) removed.push(w); });
        return joinWords(plan.words.filter((_, i) => !drop[i]));
      });
      const r: OnionResult = { text: texts[0]!, removed, scores, rows: rows[j]! };
      if (x.text_pair !== undefined) r.text_pair = texts[1]!;
      out.push(r);
    });
  }
  return out;
}
