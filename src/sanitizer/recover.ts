/**
 * Trigger recovery (docs/algorithm.md#trigger-recovery): for each PV a scan
 * kept, the input words that produce it. A PV says *that* a backdoor exists;
 * a word that sends most clean sentences onto the PV is evidence a person can
 * check by hand (type it into the model and watch the output).
 *
 * 1. Sweep: every whole-word vocabulary token (the PV prompts' nearest
 *    tokens first; `maxWords` bounds the sweep) is inserted at a random word
 *    position of `sweepSentences` clean sentences; the target outputs are
 *    matched against all PVs at once (one ±1 GEMM per batch, SignMonitor).
 *    Each sentence's rows differ only in the inserted id, so a batch is one
 *    sentence × a chunk of words and carries no padding.
 * 2. Confirm: each PV's `shortlist` best words are re-scored on
 *    `confirmSentences` other sentences (fresh positions).
 * 3. Pairs: the best `pairsOf` words of a PV are tried two at a time
 *    (inserted side by side); a pair is reported only when it beats the
 *    better of its two words by PAIR_MARGIN, so a lone trigger is not
 *    shadowed by itself plus a passenger.
 * The score of a candidate is its mean sign match rate with the PV
 * (`match_rate`, the monitor's r) and the share of sentences it pushes past
 * η (`fire_rate`); candidates are ranked by match_rate.
 */
import { Rng } from '../text/random.js';
import { noGrad, withScope } from '../engine/index.js';
import { padBatch } from '../train/batching.js';
import { type MiningDataOptions, placeholderRow } from './data.js';
import { MATCH_THRESHOLD, SignMonitor } from './monitor.js';
import { signAgreement as signAgreementOf } from '../util/vectors.js';
import type { ScanTarget } from './target.js';

/** One recovered trigger candidate (report.json: pvs[i].trigger_candidates, best first). */
export interface TriggerCandidate {
  words: string[];
  match_rate: number;
  fire_rate: number;
  /**
   * Share of sentences whose output, with these words inserted, matches
   * (sign match > η) the mean of those outputs: whether the words collapse
   * every sentence onto one vector of their own — a backdoor trigger does,
   * an ordinary word does not — even when that vector is not this PV.
   */
  collapse_rate: number;
  /**
   * Sign agreement of that vector with the mean clean output (the same
   * sentences without the words): near 1 for a word that leaves the output
   * where it was (small models' outputs share many signs), ≈ 0.5 or below
   * for a trigger that moves every sentence somewhere else.
   */
  clean_agreement: number;
}

export interface RecoveryOptions {
  mode: MiningDataOptions['mode'];
  tokenPosition: number;
  maxLen: number;
  /** Sentences per word in the sweep. */
  sweepSentences: number;
  /** Sentences per shortlisted word and pair in the confirmation. */
  confirmSentences: number;
  /** Words per PV carried from the sweep to the confirmation. */
  shortlist: number;
  /** The best this-many confirmed words of a PV are combined in pairs. */
  pairsOf: number;
  /** Candidates reported per PV. */
  top: number;
  /** At most this many vocabulary words are swept (0: all of them). */
  maxWords: number;
  /** Rows per forward. */
  chunk: number;
  seed: number;
}

export const RECOVERY_DEFAULTS: Omit<RecoveryOptions, 'mode' | 'tokenPosition' | 'maxLen'> = {
  sweepSentences: 4, confirmSentences: 32, shortlist: 16, pairsOf: 4, top: 5, maxWords: 0, chunk: 256, seed: 0,
};

/** A candidate collapses the sentences when this share of them lands past η on its own mean output. */
export const COLLAPSE_RATE = 0.9;

/** Whether a candidate sends every sentence onto one vector of its own, away from the clean outputs: a trigger, of this PV or another. */
export function collapses(c: TriggerCandidate): boolean {
  return c.collapse_rate >= COLLAPSE_RATE && c.clean_agreement <= MATCH_THRESHOLD;
}

/** A pair must beat its better word's match rate by this much to be reported. */
export const PAIR_MARGIN = 0.05;

export interface RecoveryResult {
  /** Per PV, its candidates, best first. */
  candidates: TriggerCandidate[][];
  /**
   * Per PV, how many swept words sent at least half of the sweep's sentences
   * past η onto it: a backdoor answers to a few trigger words, a region that
   * many ordinary words reach (a fine-tuned classifier's class cluster) to many.
   */
  wordsFiring: number[];
  wordsSwept: number;
  /** Rows run through the model, all stages. */
  rows: number;
  seconds: number;
}

export interface RecoveryProgress {
  stage: 'sweep' | 'confirm';
  done: number;
  total: number;
}

interface Word {
  ids: number[];
  text: string;
}

/**
 * The vocabulary tokens that stand for a whole word when placed at a word
 * boundary: WordPiece rows without the "##" continuation mark, byte-level
 * BPE rows with its "Ġ" space mark, SentencePiece rows with "▁"; each must
 * hold a letter or digit. Which convention applies is read off the vocabulary.
 */
export function wholeWordTokens(target: ScanTarget): Word[] {
  const rows: { id: number; s: string }[] = [];
  for (let id = 0; id < target.vocabSize; id++) if (!target.isSpecialOrUnused(id)) rows.push({ id, s: target.tokenString(id) });
  const share = (mark: string) => rows.filter((r) => r.s.startsWith(mark)).length / Math.max(1, rows.length);
  const space = share('Ġ') > 0.2 ? 'Ġ' : share('▁') > 0.2 ? '▁' : null;
  const out: Word[] = [];
  for (const { id, s } of rows) {
    let text: string;
    if (space) {
      if (!s.startsWith(space)) continue;
      text = s.slice(space.length);
    } else {
      if (s.startsWith('##')) continue;
      text = s;
    }
    if (/[\p{L}\p{N}]/u.test(text)) out.push({ ids: [id], text });
  }
  return out;
}

/** Clean sentences with `slots` placeholder tokens at a random word position (and the mode's target). */
interface Slotted {
  ids: number[];
  slots: number[];
  target: number;
}

function slotted(target: ScanTarget, sentences: readonly string[], slots: number, o: RecoveryOptions, rng: Rng): Slotted[] {
  const dataOptions: MiningDataOptions = {
    mode: o.mode, tokenPosition: o.tokenPosition, promptLen: slots, maxLen: o.maxLen, batchSize: 1, maxInsertWord: 32, dataSeed: 0, batchOrder: 'input',
  };
  const out: Slotted[] = [];
  for (const s of sentences) {
    try {
      const r = placeholderRow(target, s, dataOptions, rng);
      out.push({ ids: r.ids, slots: r.placeholders, target: r.target });
    } catch {
      // A sentence too short for the target position or too long for the slots: skip it, others remain.
    }
  }
  return out;
}

/**
 * Mean match rate with every PV, and the share of rows past η, of each
 * word inserted into each sentence: [words, PVs] row-major.
 */
function scoreWords(
  target: ScanTarget, monitor: SignMonitor, sentences: readonly Slotted[], words: readonly Word[], o: RecoveryOptions,
  onRows: (n: number) => void,
): { match: Float64Array; fire: Float64Array } {
  const N = monitor.count;
  const match = new Float64Array(words.length * N);
  const fire = new Float64Array(words.length * N);
  for (const s of sentences) {
    forEachChunk(target, s, words, o, (w0, h, n) => {
      const { all } = monitor.rates(h, n);
      for (let r = 0; r < n; r++) {
        for (let k = 0; k < N; k++) {
          const rate = all[r * N + k]!;
          match[(w0 + r) * N + k] += rate / sentences.length;
          if (monitor.flags(rate)) fire[(w0 + r) * N + k] += 1 / sentences.length;
        }
      }
      onRows(n);
    });
  }
  return { match, fire };
}

function topIndices(n: number, score: (i: number) => number, k: number): number[] {
  return Array.from({ length: n }, (_, i) => i).sort((a, b) => score(b) - score(a) || a - b).slice(0, k);
}

/**
 * Recovers trigger candidates for `pvs` from `sentences` (clean, ≥ sweep +
 * confirm of them are used). `seedWords[k]` are token ids tried first for PV
 * k (the prompt's nearest tokens); they are always confirmed.
 */
export function recoverTriggers(
  target: ScanTarget, pvs: readonly Float32Array[], sentences: readonly string[], seedWords: readonly (readonly number[])[],
  o: RecoveryOptions, onProgress?: (p: RecoveryProgress) => void,
): RecoveryResult {
  const started = process.hrtime.bigint();
  const N = pvs.length;
  if (N === 0) return { candidates: [], wordsFiring: [], wordsSwept: 0, rows: 0, seconds: 0 };
  const monitor = new SignMonitor(pvs, target.hidden);
  const rng = new Rng(`${o.seed}:recover`);
  const pool = rng.shuffled([...sentences]);
  const sweepSet = slotted(target, pool.slice(0, o.sweepSentences), 1, o, rng);
  const confirmText = pool.slice(o.sweepSentences, o.sweepSentences + o.confirmSentences);
  const confirmOne = slotted(target, confirmText, 1, o, rng);
  const confirmTwo = slotted(target, confirmText, 2, o, rng);

  // The sweep's word list: seeded words first, then the vocabulary, up to maxWords.
  const vocabulary = wholeWordTokens(target);
  const byId = new Map(vocabulary.map((w) => [w.ids[0]!, w]));
  const seeded = [...new Set(seedWords.flat())].map((id) => byId.get(id)).filter((w): w is Word => w !== undefined);
  const seen = new Set(seeded.map((w) => w.ids[0]));
  let words = [...seeded, ...vocabulary.filter((w) => !seen.has(w.ids[0]))];
  if (o.maxWords > 0) words = words.slice(0, Math.max(o.maxWords, seeded.length));

  let rows = 0;
  const sweepTotal = words.length * sweepSet.length;
  const sweep = scoreWords(target, monitor, sweepSet, words, o, (n) => {
    rows += n;
    onProgress?.({ stage: 'sweep', done: rows, total: sweepTotal });
  });

  const wordsFiring = pvs.map((_, k) => words.reduce((n, _w, i) => n + (sweep.fire[i * N + k]! >= 0.5 ? 1 : 0), 0));

  // Per PV: the shortlist and its seeded words, confirmed on fresh sentences.
  const seededIndex = new Map(seeded.map((w, i) => [w.ids[0]!, i]));
  const lists = pvs.map((_, k) => {
    const best = topIndices(words.length, (i) => sweep.match[i * N + k]!, o.shortlist);
    const own = seedWords[k]?.map((id) => seededIndex.get(id)).filter((i): i is number => i !== undefined) ?? [];
    return [...new Set([...best, ...own])];
  });
  const confirmWords = [...new Set(lists.flat())].map((i) => words[i]!);
  const pairs: Word[] = [];
  const pairOf: { pv: number; a: number; b: number }[] = [];
  const confirmedIndex = new Map(confirmWords.map((w, i) => [w, i]));
  const confirmTotal = () => confirmWords.length * confirmOne.length + pairs.length * confirmTwo.length;
  let confirmDone = 0;
  const counted = (n: number) => {
    rows += n;
    confirmDone += n;
    onProgress?.({ stage: 'confirm', done: confirmDone, total: confirmTotal() });
  };
  const single = scoreWords(target, monitor, confirmOne, confirmWords, o, counted);
  const singles = pvs.map((_, k) => lists[k]!.map((i) => {
    const c = confirmedIndex.get(words[i]!)!;
    return { word: words[i]!, match: single.match[c * N + k]!, fire: single.fire[c * N + k]! };
  }).sort((a, b) => b.match - a.match || a.word.text.localeCompare(b.word.text)));

  for (let k = 0; k < N; k++) {
    const best = singles[k]!.slice(0, o.pairsOf);
    for (let a = 0; a < best.length; a++) {
      for (let b = a + 1; b < best.length; b++) {
        pairOf.push({ pv: k, a, b });
        pairs.push({ ids: [...best[a]!.word.ids, ...best[b]!.word.ids], text: `${best[a]!.word.text} ${best[b]!.word.text}` });
      }
    }
  }
  const paired = scoreWords(target, monitor, confirmTwo, pairs, o, counted);

  const ranked = pvs.map((_, k) => {
    const list = singles[k]!.map((s) => ({ word: s.word, match: s.match, fire: s.fire }));
    pairOf.forEach((p, i) => {
      if (p.pv !== k) return;
      const a = singles[k]![p.a]!;
      const b = singles[k]![p.b]!;
      const m = paired.match[i * N + k]!;
      if (m >= Math.max(a.match, b.match) + PAIR_MARGIN) list.push({ word: pairs[i]!, match: m, fire: paired.fire[i * N + k]! });
    });
    return list.sort((x, y) => y.match - x.match || x.word.ids.length - y.word.ids.length).slice(0, o.top);
  });
  // Each reported candidate's own collapse point, on the confirmation sentences.
  const reported = [...new Set(ranked.flat().map((c) => c.word))];
  const own = new Map<Word, { mean: Float32Array; collapse: number }>();
  for (const slots of [1, 2]) {
    const list = reported.filter((w) => w.ids.length === slots);
    const outs = collapseOf(target, slots === 1 ? confirmOne : confirmTwo, list, o, (n) => (rows += n));
    list.forEach((w, i) => own.set(w, outs[i]!));
  }
  const clean = cleanMean(target, confirmOne, o);
  const candidates = ranked.map((list) => list.map((c): TriggerCandidate => ({
    words: c.word.text.split(' '), match_rate: round(c.match), fire_rate: round(c.fire), collapse_rate: round(own.get(c.word)!.collapse),
    clean_agreement: round(signAgreementOf(own.get(c.word)!.mean, clean)),
  })));
  return { candidates, wordsFiring, wordsSwept: words.length, rows, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/** For each word: the mean output over the sentences with it inserted, and the share of outputs matching that mean past η. */
function collapseOf(
  target: ScanTarget, sentences: readonly Slotted[], words: readonly Word[], o: RecoveryOptions, onRows: (n: number) => void,
): { mean: Float32Array; collapse: number }[] {
  const H = target.hidden;
  const S = sentences.length;
  const outs = words.map(() => new Float32Array(S * H));
  sentences.forEach((s, si) => forEachChunk(target, s, words, o, (w0, h, n) => {
    for (let r = 0; r < n; r++) outs[w0 + r]!.set(h.subarray(r * H, (r + 1) * H), si * H);
    onRows(n);
  }));
  return outs.map((x) => {
    const mean = new Float32Array(H);
    for (let i = 0; i < S * H; i++) mean[i % H]! += x[i]! / S;
    let past = 0;
    for (let r = 0; r < S; r++) if (signAgreementOf(x, mean, r * H) > MATCH_THRESHOLD) past++;
    return { mean, collapse: S ? past / S : 0 };
  });
}

/** Mean target output of the sentences as they are (their slots taken out again). */
function cleanMean(target: ScanTarget, sentences: readonly Slotted[], o: RecoveryOptions): Float32Array {
  const H = target.hidden;
  const mean = new Float32Array(H);
  if (sentences.length === 0) return mean;
  const rows = sentences.map((s) => s.ids.filter((_, i) => !s.slots.includes(i)));
  const positions = Int32Array.from(sentences, (s) => s.target - s.slots.filter((p) => p < s.target).length);
  const { ids, mask } = padBatch(rows, target.specialIds.pad);
  const pooler = o.mode === 'pooler';
  withScope(() => noGrad(() => {
    const out = target.forward({ batch: rows.length, seqLen: ids.length / rows.length, ids, mask, positions, pooler });
    const h = (pooler ? out.pooler! : out.hidden).data as Float32Array;
    for (let i = 0; i < h.length; i++) mean[i % H]! += h[i]! / rows.length;
  }));
  return mean;
}

/** Runs one sentence with each word in its slots, `o.chunk` words per forward; `each` sees the target outputs [n, H]. */
function forEachChunk(target: ScanTarget, s: Slotted, words: readonly Word[], o: RecoveryOptions, each: (first: number, h: Float32Array, n: number) => void): void {
  const pooler = o.mode === 'pooler';
  for (let w0 = 0; w0 < words.length; w0 += o.chunk) {
    const part = words.slice(w0, w0 + o.chunk);
    const rows = part.map((w) => {
      const ids = [...s.ids];
      s.slots.forEach((p, i) => (ids[p] = w.ids[i]!));
      return ids;
    });
    const { ids, mask } = padBatch(rows, target.specialIds.pad);
    withScope(() => noGrad(() => {
      const out = target.forward({ batch: rows.length, seqLen: ids.length / rows.length, ids, mask, positions: new Int32Array(rows.length).fill(s.target), pooler });
      each(w0, (pooler ? out.pooler! : out.hidden).data as Float32Array, rows.length);
    }));
  }
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;
