/**
 * PV recall (docs/algorithm.md#metrics): the share of injected PVs that a
 * search found, where an injected PV counts as found when some mined PV is
 * within distanceTh in MSE or agrees with it in sign on more than η of the
 * dimensions.
 */
import { mseOf, signAgreement } from '../sanitizer/filter.js';
import { MATCH_THRESHOLD } from '../sanitizer/monitor.js';

export interface RecallResult {
  recall: number;
  found: { injected: number; mined: number | null; mse: number; signAgreement: number }[];
}

export function pvRecall(injected: readonly Float32Array[], mined: readonly Float32Array[], distanceTh: number, eta = MATCH_THRESHOLD): RecallResult {
  const found = injected.map((p, i) => {
    let best = { injected: i, mined: null as number | null, mse: Infinity, signAgreement: 0 };
    mined.forEach((m, j) => {
      if (m.length !== p.length) throw new Error(`mined PV ${j} has ${m.length} dimensions, injected PV ${i} has ${p.length}`);
      const mse = mseOf(m, p);
      const sa = signAgreement(m, p);
      if (sa > best.signAgreement || (sa === best.signAgreement && mse < best.mse)) best = { injected: i, mined: j, mse, signAgreement: sa };
    });
    return best;
  });
  const hits = found.filter((f) => f.mse < distanceTh || f.signAgreement > eta).length;
  return { recall: injected.length ? hits / injected.length : 0, found };
}
