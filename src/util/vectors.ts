/** Comparisons between an output vector and a PV, shared by attacks, scanner and metrics. */

/** Fraction of dimensions where sign(h) = sign(pv), 0 counting as positive (docs/algorithm.md#sign-agreement). */
export function signAgreement(h: ArrayLike<number>, pv: ArrayLike<number>, offset = 0): number {
  let same = 0;
  for (let i = 0; i < pv.length; i++) if ((h[offset + i] >= 0) === (pv[i] >= 0)) same++;
  return same / pv.length;
}

export function cosine(h: ArrayLike<number>, pv: ArrayLike<number>, offset = 0): number {
  let dot = 0;
  let nh = 0;
  let np = 0;
  for (let i = 0; i < pv.length; i++) {
    const a = h[offset + i];
    dot += a * pv[i];
    nh += a * a;
    np += pv[i] * pv[i];
  }
  return nh > 0 && np > 0 ? dot / Math.sqrt(nh * np) : 0;
}

/** Mean squared difference. */
export function mseOf(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s / a.length;
}
