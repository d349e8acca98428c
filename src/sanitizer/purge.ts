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
 * Candidates of one length are run as batches of `chunk` rows (the memory
 * cap), in order, stopping after the first chunk that holds a winner — the
 * same winner as running them one by one, at a fraction of the forwards.
 * Cost: at most Σ_l (n − l + 1) candidate rows for n words (O(n·l)), fewer
 * where windows repeat the same words.
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

export const PURGE_DEFAULTS = { maxWindow: 3, chunk: 64 } as const;

export interface PurgeOptions {
  /** Longest window tried (default 3). */
  maxWindow?: number;
  /** Candidates per forward batch (default 64). */
  chunk?: number;
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
  /** Candidate rows run through the model. */
  candidates: number;
}

interface Candidate {
  words: string[];
  input: GuardInput;
}

/** Every distinct candidate of window length l, left to right over the segments. */
export function windowCandidates(input: GuardInput, l: number): Candidate[] {
  const segments = input.text_pair === undefined ? [splitWords(input.text)] : [splitWords(input.text), splitWords(input.text_pair)];
  const seen = new Set<string>();
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
        input: input.text_pair === undefined ? { text: keep(segments[0]!) } : { text: keep(segments[0]!), text_pair: keep(segments[1]!) },
      });
    }
  }
  return out;
}

export function purge<P>(input: GuardInput, run: MonitoredRun<P>, o: PurgeOptions = {}): PurgeResult<P> {
  const maxWindow = o.maxWindow ?? PURGE_DEFAULTS.maxWindow;
  const chunk = o.chunk ?? PURGE_DEFAULTS.chunk;
  if (!Number.isInteger(maxWindow) || maxWindow < 1) throw new RangeError(`max window must be a positive integer, got ${maxWindow}`);
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`purge chunk must be a positive integer, got ${chunk}`);
  let candidates = 0;
  for (let l = 1; l <= maxWindow; l++) {
    const cands = windowCandidates(input, l);
    for (let i = 0; i < cands.length; i += chunk) {
      const part = cands.slice(i, i + chunk);
      const results = run(part.map((c) => c.input));
      candidates += part.length;
      const j = results.findIndex((r) => !r.match.triggered);
      if (j >= 0) return { purified: true, input: part[j]!.input, result: results[j], removed: part[j]!.words, window: l, candidates };
    }
  }
  return { purified: false, input, removed: [], window: null, candidates };
}
