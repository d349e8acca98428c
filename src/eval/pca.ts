/**
 * Top-2 principal components for the report's scatter plot. Power iteration
 * on the covariance, applied implicitly as Xcᵀ(Xc·v)/n: forming the H×H
 * covariance would cost n·H² (≈ 0.6 GFLOP for 1000 points at H = 768),
 * while each implicit product costs 2·n·H. The second component is found
 * the same way, kept orthogonal to the first (deflation).
 */

export interface Pca2 {
  /** Mean of the points [d]. */
  mean: Float64Array;
  /** Unit principal directions [d] each; a zero vector when the data has no variance left. */
  components: [Float64Array, Float64Array];
  /** Variance (population, divided by n) along each component. */
  variances: [number, number];
  /** Total variance (trace of the covariance), for explained-variance ratios. */
  totalVariance: number;
  /** Coordinates of a d-vector on the two components, relative to the mean. */
  project(v: ArrayLike<number>): [number, number];
}

export interface PcaOptions {
  /**
   * Cap on power iterations per component. Convergence slows as λ2/λ1 → 1,
   * but then any mix of the near-equal directions is as good a view for a
   * plot, so the cap bounds the time (≈ 2 ms per iteration at 1000 × 768 in V8).
   */
  maxIterations?: number;
  /** Stop when ‖Cv − λv‖ ≤ tolerance·λ. */
  tolerance?: number;
}

/** `points` is row-major [n, d]. */
export function topTwoPca(points: ArrayLike<number>, n: number, d: number, o: PcaOptions = {}): Pca2 {
  if (!Number.isInteger(n) || !Number.isInteger(d) || n < 1 || d < 1) throw new Error(`pca: need at least one point of dimension ≥ 1, got n=${n}, d=${d}`);
  if (points.length !== n * d) throw new Error(`pca: expected ${n}×${d} = ${n * d} values, got ${points.length}`);
  const maxIt = o.maxIterations ?? 200;
  const tol = o.tolerance ?? 1e-10;

  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += points[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  // Centred copy in float64: float32 accumulation visibly skews small variances.
  const X = new Float64Array(n * d);
  let totalVariance = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const x = points[i * d + j] - mean[j];
      X[i * d + j] = x;
      totalVariance += x * x;
    }
  }
  totalVariance /= n;

  const proj = new Float64Array(n);
  const covTimes = (v: Float64Array, out: Float64Array): void => {
    for (let i = 0; i < n; i++) {
      let s = 0;
      const r = i * d;
      for (let j = 0; j < d; j++) s += X[r + j] * v[j];
      proj[i] = s;
    }
    out.fill(0);
    for (let i = 0; i < n; i++) {
      const p = proj[i];
      if (p === 0) continue;
      const r = i * d;
      for (let j = 0; j < d; j++) out[j] += X[r + j] * p;
    }
    for (let j = 0; j < d; j++) out[j] /= n;
  };

  const found: Float64Array[] = [];
  const variances: number[] = [];
  // A variance this small relative to the total is rounding noise, not a direction.
  const floor = totalVariance * 1e-12;
  for (let c = 0; c < 2; c++) {
    if (totalVariance === 0 || c >= d) {
      found.push(new Float64Array(d));
      variances.push(0);
      continue;
    }
    const v = startVector(d, c);
    orthogonalise(v, found);
    if (!normalise(v)) {
      found.push(new Float64Array(d));
      variances.push(0);
      continue;
    }
    const w = new Float64Array(d);
    let lambda = 0;
    for (let it = 0; it < maxIt; it++) {
      covTimes(v, w);
      orthogonalise(w, found);
      lambda = dot(w, v);
      if (lambda <= floor) break;
      // ‖Cv − λv‖ ≈ angle·(λ1 − λ2): small means v is (numerically) an eigenvector.
      let r = 0;
      for (let j = 0; j < d; j++) r += (w[j] - lambda * v[j]) ** 2;
      const norm = Math.hypot(...chunkedNorms(w));
      for (let j = 0; j < d; j++) v[j] = w[j] / norm;
      if (Math.sqrt(r) <= tol * lambda) break;
    }
    if (lambda <= floor) {
      found.push(new Float64Array(d));
      variances.push(0);
      continue;
    }
    // The Rayleigh quotient of the final direction is its variance.
    covTimes(v, w);
    lambda = dot(w, v);
    fixSign(v);
    found.push(v);
    variances.push(lambda);
  }

  const [u1, u2] = found as [Float64Array, Float64Array];
  return {
    mean,
    components: [u1, u2],
    variances: [variances[0], variances[1]],
    totalVariance,
    project(v: ArrayLike<number>): [number, number] {
      if (v.length !== d) throw new Error(`pca: cannot project a ${v.length}-vector onto ${d}-dimensional components`);
      let a = 0;
      let b = 0;
      for (let j = 0; j < d; j++) {
        const x = v[j] - mean[j];
        a += x * u1[j];
        b += x * u2[j];
      }
      return [a, b];
    },
  };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Math.hypot takes its arguments on the stack; feed it partial norms, not d values. */
function chunkedNorms(a: Float64Array): number[] {
  const out: number[] = [];
  for (let s = 0; s < a.length; s += 4096) {
    let t = 0;
    for (let i = s; i < Math.min(a.length, s + 4096); i++) t += a[i] * a[i];
    out.push(Math.sqrt(t));
  }
  return out;
}

function normalise(v: Float64Array): boolean {
  const n = Math.hypot(...chunkedNorms(v));
  if (!(n > 0)) return false;
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return true;
}

function orthogonalise(v: Float64Array, basis: Float64Array[]): void {
  for (const u of basis) {
    const p = dot(v, u);
    for (let i = 0; i < v.length; i++) v[i] -= p * u[i];
  }
}

/**
 * A fixed pseudo-random start: deterministic reports, and (unlike a unit
 * vector) almost surely not orthogonal to the leading direction.
 */
function startVector(d: number, salt: number): Float64Array {
  const v = new Float64Array(d);
  let s = (0x9e3779b9 ^ (salt * 0x85ebca6b)) >>> 0;
  for (let i = 0; i < d; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 32 - 0.5;
  }
  return v;
}

/** Components are defined up to sign; make the largest-magnitude entry positive so plots are stable. */
function fixSign(v: Float64Array): void {
  let k = 0;
  for (let i = 1; i < v.length; i++) if (Math.abs(v[i]) > Math.abs(v[k])) k = i;
  if (v[k] < 0) for (let i = 0; i < v.length; i++) v[i] = -v[i];
}
