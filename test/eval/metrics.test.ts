import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectionMetrics, rocAuc } from '../../src/eval/metrics.js';

test('ROC-AUC: perfect, inverted, tied and empty cases', () => {
  const mk = (positive: boolean, score: number) => ({ positive, score, flagged: score >= 1 });
  assert.equal(rocAuc([mk(true, 2), mk(true, 1.5), mk(false, 0.3), mk(false, 0.9)]), 1);
  assert.equal(rocAuc([mk(true, 0.1), mk(false, 0.9)]), 0);
  assert.equal(rocAuc([mk(true, 0.5), mk(false, 0.5)]), 0.5);
  // 3 positives × 2 negatives: positive 0.4 beats one negative (0.2) and loses to 0.6 → (2 + 2 + 1) / 6.
  assert.ok(Math.abs(rocAuc([mk(true, 1), mk(true, 0.9), mk(true, 0.4), mk(false, 0.2), mk(false, 0.6)])! - 5 / 6) < 1e-12);
  assert.equal(rocAuc([mk(true, 1)]), null);
});

test('confusion counts and accuracy', () => {
  const m = detectionMetrics([
    { positive: true, flagged: true, score: 2 }, { positive: true, flagged: false, score: 0.5 },
    { positive: false, flagged: false, score: 0.1 }, { positive: false, flagged: true, score: 1.2 },
    { positive: false, flagged: false, score: 0.2 },
  ]);
  assert.deepEqual([m.truePositives, m.falseNegatives, m.falsePositives, m.trueNegatives], [1, 1, 1, 2]);
  assert.equal(m.accuracy, 3 / 5);
});
