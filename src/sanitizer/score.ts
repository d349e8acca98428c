/**
 * The continuous backdoor score, so that detection can be traded against
 * false alarms and ROC-AUC computed over a zoo.
 *
 * For one fuzz loop: s = D · C · G where
 *   D = −(lowest epoch-mean distance loss) / distanceTh  — how far the
 *       prompt pushed outputs from their clean values, in threshold units
 *       (D ≥ 1 means the distance threshold was crossed);
 *   C = 1 if the final epoch's batch collapsed (diversity < divTh), else ½;
 *   G = 1 if the prompt lies inside the legitimate embedding range and the
 *       candidate does not sit on the clean outputs (filter.ts), else 0 —
 *       either way it is not a predefined vector.
 * The model's score is the maximum over its loops. A kept PV implies
 * s ≥ 1; a clean model's score is its best near-miss.
 */
import type { FilterVerdict } from './filter.js';
import type { LoopResult } from './mining.js';

export function loopScore(r: LoopResult, v: FilterVerdict, distanceTh: number, divTh: number): number {
  if (r.epochs.length === 0 || v.rangeViolations > 0 || v.reasons.includes('clean-output')) return 0;
  const best = Math.min(...r.epochs.map((e) => e.distance));
  const D = Math.max(0, -best / distanceTh);
  const last = r.epochs[r.epochs.length - 1];
  const C = last.diversity < divTh ? 1 : 0.5;
  return D * C;
}
