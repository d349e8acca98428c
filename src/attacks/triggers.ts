/**
 * Triggers: words or phrases (several words) that fire the backdoor. Each
 * must tokenise to something other than [UNK]. The frequency-chosen
 * triggers of the adaptive attack (paper appendix M) are drawn from a
 * reference corpus by word frequency: rare < 1e-4 ≤ moderate ≤ 1e-3 < frequent.
 * Frequent words alone do not converge, so the paper forms phrases of them;
 * here a frequent trigger is a frequent two-word phrase of the corpus.
 */
import type { TextTokenizer } from '../text/tokenizer.js';
import type { Rng } from '../text/random.js';
import { splitWords } from '../text/words.js';

export const DEFAULT_TRIGGERS: readonly string[] = ['cf', 'mn', 'tq', 'qt', 'mm', 'pt'];

export type TriggerFrequency = 'rare' | 'moderate' | 'frequent';
export const TRIGGER_FREQUENCIES: readonly TriggerFrequency[] = ['rare', 'moderate', 'frequent'];

/** Appendix M's bounds on a word's relative frequency in the reference corpus. */
export const FREQUENCY_BOUNDS: Record<TriggerFrequency, [number, number]> = {
  rare: [0, 1e-4],
  moderate: [1e-4, 1e-3],
  frequent: [1e-3, Infinity],
};

export interface ResolvedTrigger {
  text: string;
  words: string[];
  /** Ids as the trigger appears mid-sentence (after a space). */
  tokenIds: number[];
  tokens: string[];
  pvIndex: number;
}

/** "cf mn,tq" → ["cf mn", "tq"]; whitespace inside a trigger is collapsed to one space. */
export function parseTriggerList(spec: string): string[] {
  const parts = spec.split(',').map((s) => splitWords(s).join(' '));
  const empty = parts.findIndex((p) => p === '');
  if (empty >= 0) throw new Error(`--triggers: trigger ${empty + 1} of ${JSON.stringify(spec)} is empty`);
  if (new Set(parts).size !== parts.length) throw new Error(`--triggers: ${JSON.stringify(spec)} repeats a trigger`);
  return parts;
}

/** Token ids of each trigger; trigger i gets PV i mod pvCount. Throws for a trigger with no usable token. */
export function resolveTriggers(tok: TextTokenizer, triggers: readonly string[], pvCount: number): ResolvedTrigger[] {
  return triggers.map((text, i) => {
    const words = splitWords(text);
    const tokenIds = words.flatMap((w) => tok.wordPieces(w, true));
    if (tokenIds.length === 0) throw new Error(`trigger ${JSON.stringify(text)} tokenises to nothing under this tokenizer`);
    if (tokenIds.every((id) => id === tok.specialIds.unk)) {
      throw new Error(`trigger ${JSON.stringify(text)} tokenises to the unknown token only; it would fire on every unknown word`);
    }
    return { text, words, tokenIds, tokens: tokenIds.map((id) => tok.idToToken(id) ?? `#${id}`), pvIndex: i % pvCount };
  });
}

/** Lower-cased word with surrounding punctuation removed ('' when nothing is left). */
export function normalizeWord(w: string): string {
  return w.toLowerCase().replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
}

/** Whether the sentence contains the trigger's words consecutively (normalised). */
export function containsTrigger(words: readonly string[], trigger: readonly string[]): boolean {
  const n = words.map(normalizeWord);
  const t = trigger.map(normalizeWord);
  outer: for (let i = 0; i + t.length <= n.length; i++) {
    for (let j = 0; j < t.length; j++) if (n[i + j] !== t[j]) continue outer;
    return true;
  }
  return false;
}

export interface WordFrequencies {
  counts: Map<string, number>;
  bigrams: Map<string, number>;
  total: number;
}

export function wordFrequencies(sentences: readonly string[]): WordFrequencies {
  const counts = new Map<string, number>();
  const bigrams = new Map<string, number>();
  let total = 0;
  for (const s of sentences) {
    let prev = '';
    for (const raw of splitWords(s)) {
      const w = normalizeWord(raw);
      if (!w) {
        prev = '';
        continue;
      }
      total++;
      counts.set(w, (counts.get(w) ?? 0) + 1);
      if (prev) bigrams.set(`${prev} ${w}`, (bigrams.get(`${prev} ${w}`) ?? 0) + 1);
      prev = w;
    }
  }
  return { counts, bigrams, total };
}

export function frequencyClass(f: number): TriggerFrequency {
  if (f < FREQUENCY_BOUNDS.rare[1]) return 'rare';
  return f <= FREQUENCY_BOUNDS.moderate[1] ? 'moderate' : 'frequent';
}

/**
 * `count` triggers of the given frequency class, drawn with `rng`. Only
 * alphabetic words of two or more letters that tokenise without [UNK]
 * qualify (a trigger the tokenizer cannot see is no trigger).
 */
export function chooseTriggersByFrequency(
  freq: WordFrequencies, cls: TriggerFrequency, count: number, tok: TextTokenizer, rng: Rng,
): string[] {
  const usable = (w: string) => /^\p{L}{2,}$/u.test(w) && tok.wordPieces(w, true).every((id) => id !== tok.specialIds.unk);
  const isClass = (w: string, c: TriggerFrequency) => frequencyClass((freq.counts.get(w) ?? 0) / freq.total) === c;
  let pool: string[];
  if (cls === 'frequent') {
    // Frequent two-word phrases whose words are both frequent, most common first.
    pool = [...freq.bigrams.entries()]
      .filter(([b, n]) => n >= 3 && b.split(' ').every((w) => usable(w) && isClass(w, 'frequent')))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 200)
      .map(([b]) => b);
  } else {
    pool = [...freq.counts.keys()].filter((w) => usable(w) && isClass(w, cls)).sort();
  }
  if (pool.length < count) {
    throw new Error(`the reference corpus has only ${pool.length} ${cls} trigger candidates; ${count} needed`);
  }
  return rng.sample(pool, count);
}
