/**
 * Sliding-window trigger removal (docs/algorithm.md#guard). For an input
 * the monitor flagged: for window lengths l = 1 … maxWindow, every window
 * of l consecutive words of every segment, left to right, is a candidate;
 * a candidate deletes every occurrence of its words from all segments.
 * The first candidate whose monitored output is no longer flagged wins and
 * its classification is the answer. The guard does not know where a
 * trigger sits, so windows cover all words (the seed code only searched
 * before the known trigger position).
 *
 * Candidates are taken in (window length, position) order, `step` at a
 * time per input, and the rows of every flagged input of a call are run
 * together in batches of at most `chunk` rows (the memory cap), rows of
 * similar length together so that little of a batch is padding; an input
 * stops at the first round holding its winner — the same winner as running
 * its candidates one by one, at a fraction of the forwards. Cost: at most
 * Σ_l (n − l + 1) candidate rows for n words (O(n·l)), fewer where windows
 * repeat the same words (a candidate is its set of deleted words, run once
 * whatever its length), plus at most step − 1 rows past the winner.
 */
import { joinWords, splitWords } from '../text/words.js';
import type { MonitorMatch } from './monitor.js';

/** What the guard classifies: one text, or a pair (RTE, BoolQ). */
export interface GuardInput {
  text: string;
  text_pair?: string;
}

/** A monitored forward's result for one input: the monitor's verdict and the model's prediction. */
export interface Monitored<P> {
  match: MonitorMatch;
  prediction: P;
}

/** Runs inputs through the monitored model (batched as it likes), one result per input, in order. */
export type MonitoredRun<P> = (inputs: readonly GuardInput[]) => Monitored<P>[];

export const PURGE_DEFAULTS = { maxWindow: 3, chunk: 64, step: 8 } as const;

export interface PurgeOptions {
  /** Longest window tried (default 3). */
  maxWindow?: number;
  /** Candidate rows per forward batch (default 64). */
  chunk?: number;
  /** Candidates each input adds per round (default 8; purgeMany). */
  step?: number;
}

export interface PurgeResult<P> {
  /** Whether some window made the input pass the monitor. */
  purified: boolean;
  /** The purified input (the original where none was found). */
  input: GuardInput;
  /** The winner's monitored result (undefined where none was found). */
  result?: Monitored<P>;
  /** The deleted words, in window order ([] where none was found). */
  removed: string[];
  /** The winning window length, or null. */
  window: number | null;
  /** Candidate rows run through the model for this input (the cost: up to its winner's round, so it depends on `step`). */
  candidates: number;
}

interface Candidate {
  words: string[];
  /** Its window length. */
  window: number;
  input: GuardInput;
}

/** Every distinct candidate of window length l, left to right over the segments (`seen`: word sets already taken). */
export function windowCandidates(input: GuardInput, l: number, seen = new Set<string>()): Candidate[] {
  const segments = input.text_pair === undefined ? [splitWords(input.text)] : [splitWords(input.text), splitWords(input.text_pair)];
  const out: Candidate[] = [];
  for (const words of segments) {
    for (let i = 0; i + l <= words.length; i++) {
      const window = [...new Set(words.slice(i, i + l))];
      const key = [...window].sort().join('\u0000');
      if (seen.has(key)) continue;
      seen.add(key);
      const drop = new Set(window);
      const keep = (ws: string[]) => joinWords(ws.filter((w) => !drop.has(w)));
      out.push({
        words: window,
        window: l,
        input: input.text_pair === undefined ? { text: keep(segments[0]!) } : { text: keep(segments[0]!), text_pair: keep(segments[1]!) },
      });
    }
  }
  return out;
}

/**
 * Purges several flagged inputs together: in rounds, each unresolved input
 * contributes its next `step` candidates (in its own order), the rows of a
 * round are run in chunks of `chunk`, and an input is resolved by its first
 * unflagged candidate — the winner one-by-one evaluation would find. Small
 * steps spend few rows past an early winner; packing several inputs keeps
 * the batches full.
 */
export function purgeMany<P>(inputs: readonly GuardInput[], run: MonitoredRun<P>, o: PurgeOptions = {}): PurgeResult<P>[] {
  const maxWindow = o.maxWindow ?? PURGE_DEFAULTS.maxWindow;
  const chunk = o.chunk ?? PURGE_DEFAULTS.chunk;
  const step = o.step ?? PURGE_DEFAULTS.step;
  for (const [v, what] of [[maxWindow, 'max window'], [chunk, 'purge chunk'], [step, 'purge step']] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be a positive integer, got ${v}`);
  }
  const cands = inputs.map((input) => {
    const seen = new Set<string>();
    return Array.from({ length: maxWindow }, (_, k) => windowCandidates(input, k + 1, seen)).flat();
  });
  const results: PurgeResult<P>[] = inputs.map((input) => ({ purified: false, input, removed: [], window: null, candidates: 0 }));
  const cursor = inputs.map(() => 0);
  let open = inputs.map((_, i) => i).filter((i) => cands[i]!.length > 0);
  while (open.length) {
    const rows: { owner: number; c: Candidate }[] = [];
    for (const i of open) {
      for (const c of cands[i]!.slice(cursor[i], cursor[i]! + step)) rows.push({ owner: i, c });
      cursor[i]! += step;
    }
    const out = runByLength(rows.map((r) => r.c.input), run, chunk);
    const won = new Set<number>();
    rows.forEach((r, k) => {
      results[r.owner]!.candidates++;
      if (won.has(r.owner) || out[k]!.match.triggered) return;
      won.add(r.owner);
      results[r.owner] = { ...results[r.owner]!, purified: true, input: r.c.input, result: out[k], removed: r.c.words, window: r.c.window };
    });
    open = open.filter((i) => !won.has(i) && cursor[i]! < cands[i]!.length);
  }
  return results;
}

/**
 * Runs rows in chunks of rows of similar length (shortest first), results
 * back in the rows' order: a chunk is padded to its longest row, and a
 * round mixes inputs of different lengths.
 */
function runByLength<P>(rows: readonly GuardInput[], run: MonitoredRun<P>, chunk: number): Monitored<P>[] {
  const size = (x: GuardInput) => x.text.length + (x.text_pair?.length ?? 0);
  const order = rows.map((_, k) => k).sort((a, b) => size(rows[a]!) - size(rows[b]!));
  const out = new Array<Monitored<P>>(rows.length);
  for (let k = 0; k < order.length; k += chunk) {
    const part = order.slice(k, k + chunk);
    run(part.map((i) => rows[i]!)).forEach((m, j) => { out[part[j]!] = m; });
  }
  return out;
}

/** One input's purge (purgeMany of one). */
export function purge<P>(input: GuardInput, run: MonitoredRun<P>, o: PurgeOptions = {}): PurgeResult<P> {
  return purgeMany([input], run, o)[0]!;
}
