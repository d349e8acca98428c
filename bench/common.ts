/** Timing helpers every benchmark shares, so their ratios mean the same thing. */
import { kernelsFor } from '../src/engine/backend.js';
import { Rng } from '../src/text/random.js';

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
