/**
 * The sign monitor against a brute-force reference: per row and PV, the
 * count of dimensions whose signs agree (sign(0) = +1), over random data
 * with exact zeros, ties between PVs, an empty PV set and token-level
 * (any-token) monitoring.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MATCH_THRESHOLD, SignMonitor } from '../../src/sanitizer/monitor.js';
import { mulberry } from '../helpers/random.js';

function randomRows(n: number, H: number, rnd: () => number): Float32Array {
  // A tenth exact zeros: sign(0) must count as +1 on both sides.
  return Float32Array.from({ length: n * H }, () => (rnd() < 0.1 ? 0 : rnd() * 2 - 1));
}

function bruteRate(h: Float32Array, off: number, pv: Float32Array): number {
  let agree = 0;
  for (let d = 0; d < pv.length; d++) if ((h[off + d]! >= 0) === (pv[d]! >= 0)) agree++;
  return agree / pv.length;
}

test('monitor: match rates equal the brute-force count for every row and PV', () => {
  const rnd = mulberry(7);
  for (const [R, H, N] of [[1, 8, 1], [17, 64, 6], [40, 256, 9], [3, 768, 2]] as const) {
    const pvs = Array.from({ length: N }, () => randomRows(1, H, rnd));
    const h = randomRows(R, H, rnd);
    // Make some rows copies of a PV (rate 1) and some its negation (rate 0 or the zero-ties).
    h.set(pvs[N - 1]!, 0);
    const m = new SignMonitor(pvs, H);
    const got = m.match(h, R);
    for (let r = 0; r < R; r++) {
      const want = pvs.map((p) => bruteRate(h, r * H, p));
      assert.deepEqual(Array.from(got[r]!.rates), want, `rates of row ${r} (R ${R}, H ${H}, N ${N})`);
      const best = Math.max(...want);
      assert.equal(got[r]!.rate, best);
      assert.equal(got[r]!.pv, want.indexOf(best), 'first PV on ties');
      assert.equal(got[r]!.triggered, best > MATCH_THRESHOLD);
    }
    assert.equal(got[0]!.rate, 1);
  }
});

test('monitor: the threshold is strict, offsets read the right rows, an empty set flags nothing', () => {
  const H = 10;
  const pv = Float32Array.from({ length: H }, (_, i) => (i % 2 ? 1 : -1));
  const eight = Float32Array.from(pv, (x, i) => (i < 8 ? x : -x)); // exactly 0.8
  const nine = Float32Array.from(pv, (x, i) => (i < 9 ? x : -x));
  const m = new SignMonitor([pv], H);
  const rows = new Float32Array(3 * H);
  rows.set(eight, 0);
  rows.set(nine, H);
  rows.set(pv, 2 * H);
  const [a, b, c] = m.match(rows, 3);
  assert.equal(a!.triggered, false, 'r = η is not flagged (strict >)');
  assert.equal(b!.triggered, true);
  assert.equal(c!.rate, 1);
  assert.equal(m.match(rows, 1, H)[0]!.rate, 0.9, 'offset');
  const empty = new SignMonitor([], H).match(rows, 3);
  assert.ok(empty.every((x) => !x.triggered && x.pv === -1 && x.rates.length === 0));
  assert.throws(() => new SignMonitor([new Float32Array(H + 1)], H), /PV 0 has 11 values, the backbone's hidden size is 10/);
  assert.throws(() => new SignMonitor([pv], H, 1), /threshold must be in \[0, 1\)/);
});

test('monitor: token-level monitoring flags an example when any of its positions matches', () => {
  const rnd = mulberry(3);
  const H = 32, T = 5;
  const pvs = [randomRows(1, H, rnd), randomRows(1, H, rnd)];
  const h = randomRows(2 * T, H, rnd);
  h.set(pvs[1]!, (1 * T + 3) * H); // example 1, token 3 carries PV 1
  h.set(pvs[0]!, (0 * T + 4) * H); // example 0, token 4: padding, not listed
  const m = new SignMonitor(pvs, H);
  const [e0, e1] = m.matchAny(h, T, [[0, 1, 2], [0, 1, 2, 3]]);
  assert.equal(e1!.triggered, true);
  assert.equal(e1!.pv, 1);
  assert.equal(e1!.rate, 1);
  const want0 = Math.max(...[0, 1, 2].flatMap((t) => pvs.map((p) => bruteRate(h, t * H, p))));
  assert.equal(e0!.rate, want0, 'padding rows are not monitored');
  assert.equal(m.matchAny(h, T, [[]])[0]!.triggered, false, 'no positions: nothing to flag');
});
