/** Timing helpers every benchmark shares, so their ratios mean the same thing. */
import { kernelsFor } from '../src/engine/backend.js';
import { Encoder } from '../src/models/encoder.js';
import { MlmHead } from '../src/models/heads.js';
import type { LoadedModel } from '../src/models/model.js';
import { freezeBackbone } from '../src/prompt/index.js';
import { nlpCorpusSentences, sampleSentences } from '../src/text/corpus.js';
import { bertUncasedTokenizer } from '../src/text/pretrained.js';
import { Rng } from '../src/text/random.js';
import { configFor, ZOO } from '../src/zoo/configs.js';

/** Best time of fn over at least minReps runs and minSeconds in total, after one warm-up. */
export function timeBest(fn: () => void, minSeconds: number, minReps = 3): number {
  fn();
  let best = Infinity;
  let total = 0;
  let reps = 0;
  while (reps < minReps || total < minSeconds) {
    const t0 = process.hrtime.bigint();
    fn();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.min(best, dt);
    total += dt;
    reps++;
  }
  return best;
}

/** The machine's own GEMM speed: best-of sgemm on 2048×768×768, A·Bᵀ (the layout linear uses). */
export function sgemmGflops(): number {
  const M = 2048, N = 768, K = 768;
  const rng = new Rng(1);
  const A = Float32Array.from({ length: M * K }, () => rng.next() - 0.5);
  const B = Float32Array.from({ length: K * N }, () => rng.next() - 0.5);
  const C = new Float32Array(M * N);
  const k = kernelsFor(A);
  const s = timeBest(() => k.sgemm(false, true, M, N, K, 1, A, 0, K, B, 0, K, 0, C, 0, N), 1.0, 5);
  return (2 * M * N * K) / s / 1e9;
}

/** The benchmarks' command line: `--json`, `--profile`, and `--name value` options. */
export function benchArgs(argv: readonly string[] = process.argv.slice(2)): { json: boolean; profile: boolean; argOf(name: string): string | undefined } {
  return {
    json: argv.includes('--json'),
    profile: argv.includes('--profile'),
    argOf: (name) => {
      const i = argv.indexOf(name);
      return i >= 0 ? argv[i + 1] : undefined;
    },
  };
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Wall time of one call, in seconds. */
export const seconds = (fn: () => void): number => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};

/** The median of per-repetition ratios (each pair measured back to back): robust to the machine's load drifting. */
export const ratioOfMedians = (a: readonly number[], b: readonly number[]): number => median(a.map((x, i) => x / b[i]!));

/** Corpus sentences of `minTokens`–`maxTokens` bert-base-uncased tokens ([CLS] and [SEP] included), drawn with `seed`. */
export function sentencesOfLength(pool: number, seed: string, minTokens: number, maxTokens: number, keep: (s: string) => boolean = () => true): string[] {
  const tok = bertUncasedTokenizer();
  return sampleSentences(nlpCorpusSentences(), pool, seed).filter((s) => {
    const n = tok.encode(s, null, { maxLength: 128 }).ids.length;
    return n >= minTokens && n <= maxTokens && keep(s);
  });
}

/** The BERT shapes of --shapes (default `fallback`), checked against the zoo. */
export function bertShapes(argOf: (name: string) => string | undefined, fallback: string): string[] {
  const shapes = (argOf('--shapes') ?? fallback).split(',');
  const known = Object.keys(ZOO).filter((k) => ZOO[k]!.family === 'bert');
  for (const s of shapes) if (!known.includes(s)) throw new Error(`unknown shape "${s}"; known: ${known.join(', ')}`);
  return shapes;
}

/** --reps (default `fallback`), a positive integer. */
export function repsArg(argOf: (name: string) => string | undefined, fallback: number): number {
  const reps = Number(argOf('--reps') ?? fallback);
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer');
  return reps;
}

/** A frozen random-weight backbone of a zoo shape with the bert-base-uncased vocabulary and an MLM head. */
export function frozenRandomBackbone(name: string, initializerRange?: number): LoadedModel {
  const e = ZOO[name]!;
  const t = bertUncasedTokenizer({ modelMaxLength: e.maxPositions });
  const config = { ...configFor(e, t), ...(initializerRange !== undefined && { initializerRange }) };
  const encoder = Encoder.init(config, 1);
  const mlm = MlmHead.init(config, encoder.wordEmbeddings, 2);
  const m: LoadedModel = { dir: null, config, encoder, mlm, sequenceClassifier: null, tokenClassifier: null, tokenizer: t, hash: '', unusedKeys: [] };
  freezeBackbone(m);
  return m;
}
