/**
 * The PV sign monitor (docs/algorithm.md#guard): an output h of the
 * backbone is *triggered* when its signs agree with some PV's signs on more
 * than a share η of the dimensions,
 *   r(h) = max over PVs k of #{d : sign(h_d) = sign(PV_k,d)} / H,  flagged when r > η,
 * with sign(x) = +1 for x ≥ 0 and −1 otherwise. Under random signs r·H is
 * Binomial(H, ½), so clean outputs pass η = 0.8 with negligible probability.
 *
 * A batch is one GEMM of ±1 matrices: S [R, H] · Pᵀ [H, N] = agreements −
 * disagreements, so matches = (S·Pᵀ + H) / 2. The products are integers
 * below 2²⁴ and exact in float32, so the rates equal the per-dimension count
 * (held as float64, so that r = η compares as equal).
 */
import { linear, noGrad, Tensor, withScope } from '../engine/index.js';

/** η: the share of agreeing signs above which an output is triggered (the paper's 0.8, strict >). */
export const MATCH_THRESHOLD = 0.8;

/** One monitored output: its best match rate, which PV, whether it is flagged, and every PV's rate. */
export interface MonitorMatch {
  rate: number;
  /** Index of the best-matching PV (the first on ties); −1 when the set is empty. */
  pv: number;
  triggered: boolean;
  rates: Float64Array;
}

/** ±1 signs of `n` rows of width H, as the monitor compares them. */
function signRows(data: ArrayLike<number>, offset: number, rows: number, H: number): Float32Array {
  const s = new Float32Array(rows * H);
  for (let i = 0; i < rows * H; i++) s[i] = data[offset + i]! >= 0 ? 1 : -1;
  return s;
}

export class SignMonitor {
  readonly hidden: number;
  readonly count: number;
  readonly threshold: number;
  /** [N, H] ±1. */
  private readonly signs: Float32Array;

  constructor(pvs: readonly Float32Array[], hidden: number, threshold = MATCH_THRESHOLD) {
    if (!Number.isInteger(hidden) || hidden < 1) throw new RangeError(`monitor: hidden size must be a positive integer, got ${hidden}`);
    if (!(threshold >= 0 && threshold < 1)) throw new RangeError(`monitor: threshold must be in [0, 1), got ${threshold}`);
    pvs.forEach((p, k) => {
      if (p.length !== hidden) throw new RangeError(`monitor: PV ${k} has ${p.length} values, the backbone's hidden size is ${hidden}`);
    });
    this.hidden = hidden;
    this.count = pvs.length;
    this.threshold = threshold;
    this.signs = new Float32Array(pvs.length * hidden);
    pvs.forEach((p, k) => this.signs.set(signRows(p, 0, 1, hidden), k * hidden));
  }

  /**
   * Match rates of R consecutive rows of width H in `data` (from `offset`):
   * rates [R, N] row-major, and each row's best rate and PV.
   */
  rates(data: ArrayLike<number>, rows: number, offset = 0): { best: Float64Array; pv: Int32Array; all: Float64Array } {
    const H = this.hidden;
    const N = this.count;
    const best = new Float64Array(rows);
    const pv = new Int32Array(rows).fill(-1);
    const all = new Float64Array(rows * N);
    if (rows === 0 || N === 0) return { best, pv, all };
    withScope(() => noGrad(() => {
      const s = Tensor.from(signRows(data, offset, rows, H), [rows, H]);
      const dot = linear(s, Tensor.from(this.signs, [N, H]), null).data;
      for (let i = 0; i < rows * N; i++) all[i] = (dot[i]! + H) / (2 * H);
    }));
    for (let r = 0; r < rows; r++) {
      let k = 0;
      for (let j = 1; j < N; j++) if (all[r * N + j]! > all[r * N + k]!) k = j;
      best[r] = all[r * N + k]!;
      pv[r] = k;
    }
    return { best, pv, all };
  }

  /**
   * r > η. A rate is count / H, correctly rounded, so a rate of exactly η
   * is the same double as η written as a decimal (57 / 100 === 0.57) and
   * is not flagged.
   */
  flags(rate: number): boolean {
    return rate > this.threshold;
  }

  /** One MonitorMatch per row. */
  match(data: ArrayLike<number>, rows: number, offset = 0): MonitorMatch[] {
    const { best, pv, all } = this.rates(data, rows, offset);
    const N = this.count;
    return Array.from({ length: rows }, (_, r) => ({
      rate: best[r]!, pv: pv[r]!, triggered: this.flags(best[r]!), rates: all.slice(r * N, (r + 1) * N),
    }));
  }

  /**
   * Token-level monitoring (NER): per example, the best match over its
   * `positions` rows (the rows of h [B·T, H] that hold real tokens).
   * An example is flagged when any one token is.
   */
  matchAny(data: ArrayLike<number>, T: number, positions: readonly (readonly number[])[]): MonitorMatch[] {
    const B = positions.length;
    const { best, pv, all } = this.rates(data, B * T);
    const N = this.count;
    return positions.map((ts, b) => {
      let at = -1;
      for (const t of ts) if (at < 0 || best[b * T + t]! > best[at]!) at = b * T + t;
      if (at < 0) return { rate: 0, pv: -1, triggered: false, rates: new Float64Array(N) };
      return { rate: best[at]!, pv: pv[at]!, triggered: this.flags(best[at]!), rates: all.slice(at * N, (at + 1) * N) };
    });
  }
}
