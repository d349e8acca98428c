/** Detection metrics over a zoo of scanned models. */

export interface Scored {
  /** Ground truth: true for a backdoored model. */
  positive: boolean;
  /** The scanner's verdict. */
  flagged: boolean;
  score: number;
}

export interface DetectionMetrics {
  positives: number;
  negatives: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  trueNegatives: number;
  accuracy: number;
  rocAuc: number | null;
}

/**
 * ROC-AUC as the probability that a random positive outscores a random
 * negative (ties count one half) — the Mann–Whitney form, exact for any
 * number of ties. Null when either class is empty.
 */
export function rocAuc(items: readonly Scored[]): number | null {
  const pos = items.filter((i) => i.positive).map((i) => i.score);
  const neg = items.filter((i) => !i.positive).map((i) => i.score);
  if (pos.length === 0 || neg.length === 0) return null;
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

export function detectionMetrics(items: readonly Scored[]): DetectionMetrics {
  const tp = items.filter((i) => i.positive && i.flagged).length;
  const fn = items.filter((i) => i.positive && !i.flagged).length;
  const fp = items.filter((i) => !i.positive && i.flagged).length;
  const tn = items.filter((i) => !i.positive && !i.flagged).length;
  return {
    positives: tp + fn, negatives: fp + tn,
    truePositives: tp, falsePositives: fp, falseNegatives: fn, trueNegatives: tn,
    accuracy: items.length ? (tp + tn) / items.length : 0,
    rocAuc: rocAuc(items),
  };
}
