/**
 * The native kernel set against the js reference: every kernel on random
 * data over odd, unit and empty shapes, backward kernels accumulating into
 * pre-filled gradients, dropout masks bit for bit, and bad calls that must
 * throw instead of crashing. Skipped only when the addon did not load.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { hash32, jsKernels as js } from '../../src/engine/kernels/js.js';
import { nativeAddon, nativeKernels, nativeLoadError } from '../../src/engine/kernels/native.js';
import type { Kernels } from '../../src/engine/kernels/types.js';
import { mulberry } from '../helpers/random.js';

// ---------------------------------------------------------------------------
// helpers

const rng = mulberry;

let seedCounter = 1;
function rand(n: number, scale = 1, shift = 0): Float32Array {
  const r = rng(seedCounter++);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale + shift;
  return a;
}

interface Tol {
  rel?: number;
  abs?: number;
}

/** |a - e| <= abs + rel * |e| elementwise; NaN only where NaN is expected. */
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol: Tol = {}): void {
  const rel = tol.rel ?? 1e-4;
  const abs = tol.abs ?? 1e-5;
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) || Number.isNaN(a)) {
      assert.ok(Number.isNaN(a) && Number.isNaN(e), `${what}[${i}]: native ${a}, js ${e}`);
      continue;
    }
    if (a === e) continue;
    const err = Math.abs(a - e);
    if (!(err <= abs + rel * Math.abs(e))) {
      assert.fail(`${what}[${i}]: native ${a}, js ${e} (|diff| ${err.toExponential(2)}, tol abs ${abs} rel ${rel})`);
    }
  }
}

function closeNum(a: number, e: number, what: string, tol: Tol = {}): void {
  close([a], [e], what, tol);
}

const copy = (a: Float32Array): Float32Array => new Float32Array(a);

/** Runs `body(nat)` only when the addon loaded, else marks the test skipped with the reason. */
function ntest(name: string, body: (nat: Kernels, t: TestContext) => void | Promise<void>): void {
  test(name, (t) => {
    if (!nativeKernels) {
      t.skip(`native addon unavailable: ${nativeLoadError}`);
      return;
    }
    return body(nativeKernels, t);
  });
}

test('native addon loads (required when LMS_REQUIRE_NATIVE=1)', (t) => {
  if (!nativeKernels) {
    if (process.env.LMS_REQUIRE_NATIVE === '1') assert.fail(`native addon did not load: ${nativeLoadError}`);
    t.skip(`native addon unavailable: ${nativeLoadError}`);
    return;
  }
  assert.equal(nativeKernels.name, 'native');
  assert.ok(['openblas', 'portable'].includes(nativeKernels.gemmImpl), nativeKernels.gemmImpl);
  t.diagnostic(`gemm: ${nativeKernels.gemmImpl}, portable isa: ${nativeAddon?.portableIsa}, threads: ${nativeAddon?.threads}`);
});

// ---------------------------------------------------------------------------
// GEMM

interface GemmCase {
  tA: boolean;
  tB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  padA: number;
  padB: number;
  padC: number;
  offA: number;
  offB: number;
  offC: number;
}

function gemmTol(K: number): Tol {
  // Products of values in [-1, 1]: errors grow with K, BLAS sums in a different order.
  return { rel: 1e-4, abs: 1e-5 + 2e-6 * K };
}

function runGemm(nat: Kernels, c: GemmCase): void {
  const { tA, tB, M, N, K, alpha, beta } = c;
  const lda = (tA ? M : K) + c.padA;
  const ldb = (tB ? K : N) + c.padB;
  const ldc = N + c.padC;
  const A = rand(c.offA + (tA ? K : M) * lda + 3);
  const B = rand(c.offB + (tB ? N : K) * ldb + 3);
  // beta = 0 must overwrite C, NaN included.
  const C0 = beta === 0 ? new Float32Array(c.offC + M * ldc + 3).fill(NaN) : rand(c.offC + M * ldc + 3);
  const Cj = copy(C0);
  const Cn = copy(C0);
  js.sgemm(tA, tB, M, N, K, alpha, A, c.offA, lda, B, c.offB, ldb, beta, Cj, c.offC, ldc);
  nat.sgemm(tA, tB, M, N, K, alpha, A, c.offA, lda, B, c.offB, ldb, beta, Cn, c.offC, ldc);
  close(Cn, Cj, `sgemm ${JSON.stringify(c)}`, gemmTol(K));
}

ntest('sgemm: all transposes, odd/unit/empty shapes, padded leading dims and offsets', (nat) => {
  const shapes: [number, number, number][] = [
    [1, 1, 1], [3, 17, 5], [17, 3, 67], [67, 67, 67], [1, 67, 3], [67, 1, 17], [3, 4, 1],
    [0, 3, 4], [3, 0, 4], [3, 4, 0], [0, 0, 0], [130, 70, 300],
  ];
  const scalars: [number, number][] = [[1, 0], [0.5, 1], [-1.25, 0.75], [0, 2], [1, 0.5]];
  let i = 0;
  for (const [M, N, K] of shapes) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const [alpha, beta] = scalars[i++ % scalars.length]!;
        runGemm(nat, { tA, tB, M, N, K, alpha, beta, padA: 0, padB: 0, padC: 0, offA: 0, offB: 0, offC: 0 });
        runGemm(nat, { tA, tB, M, N, K, alpha, beta, padA: 3, padB: 5, padC: 2, offA: 7, offB: 11, offC: 5 });
      }
    }
  }
});

ntest('sgemm: large K (looser tolerance) and BERT-like shapes', (nat) => {
  for (const [tA, tB] of [[false, true], [false, false], [true, false]] as const) {
    runGemm(nat, { tA, tB, M: 64, N: 96, K: 2048, alpha: 1, beta: 0, padA: 0, padB: 0, padC: 0, offA: 0, offB: 0, offC: 0 });
  }
  runGemm(nat, { tA: false, tB: true, M: 256, N: 768, K: 768, alpha: 1, beta: 1, padA: 0, padB: 0, padC: 0, offA: 0, offB: 0, offC: 0 });
});

function runBatched(nat: Kernels, tA: boolean, tB: boolean, M: number, N: number, K: number,
  outer: number, inner: number, alpha: number, beta: number): void {
  // Attention layout: per-head slices of [outer, rows, inner * cols] tensors,
  // addressed with strides and a leading dimension of inner * cols.
  const aRows = tA ? K : M;
  const aCols = tA ? M : K;
  const bRows = tB ? N : K;
  const bCols = tB ? K : N;
  const lda = inner * aCols + 1;
  const ldb = inner * bCols + 2;
  const ldc = inner * N + 3;
  const offA = 2;
  const offB = 3;
  const offC = 4;
  const A = rand(offA + Math.max(1, outer) * aRows * lda + 1);
  const B = rand(offB + Math.max(1, outer) * bRows * ldb + 1);
  const C0 = rand(offC + Math.max(1, outer) * M * ldc + 1);
  const Cj = copy(C0);
  const Cn = copy(C0);
  const args = (C: Float32Array) => [tA, tB, M, N, K, alpha,
    A, offA, lda, aRows * lda, aCols, B, offB, ldb, bRows * ldb, bCols,
    beta, C, offC, ldc, M * ldc, N, outer, inner] as const;
  js.sgemmBatched(...args(Cj));
  nat.sgemmBatched(...args(Cn));
  close(Cn, Cj, `sgemmBatched tA=${tA} tB=${tB} M=${M} N=${N} K=${K} outer=${outer} inner=${inner}`, gemmTol(K));
}

ntest('sgemmBatched: two-level strides, all transposes, empty batches', (nat) => {
  const cases: [number, number, number, number, number][] = [
    [5, 7, 9, 3, 4], [1, 1, 1, 1, 1], [17, 3, 67, 2, 3], [3, 17, 1, 1, 5], [8, 8, 8, 0, 4], [8, 8, 8, 4, 0],
    [0, 8, 8, 2, 2], [8, 8, 0, 2, 2], [33, 33, 16, 4, 6],
  ];
  for (const [M, N, K, outer, inner] of cases) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        runBatched(nat, tA, tB, M, N, K, outer, inner, 1, 0);
        runBatched(nat, tA, tB, M, N, K, outer, inner, 0.125, 1);
      }
    }
  }
});

ntest('sgemmBatched: serial and pooled strategies agree on attention shapes', (nat) => {
  const addon = nativeAddon!;
  try {
    for (const mode of [1, 2, 0] as const) {
      addon.setBatchedMode(mode);
      runBatched(nat, false, true, 64, 64, 64, 4, 12, 0.125, 0); // Q·Kᵀ
      runBatched(nat, false, false, 64, 64, 64, 4, 12, 1, 0); // P·V
      runBatched(nat, true, false, 64, 64, 64, 2, 3, 1, 1); // dV = Pᵀ·dO
    }
  } finally {
    addon.setBatchedMode(0);
  }
});

// ---------------------------------------------------------------------------
// Row and elementwise kernels

const ROWS = [0, 1, 3, 17, 67];
const COLS = [1, 3, 17, 67, 128];
const SIZES = [0, 1, 3, 17, 67, 10007];

ntest('biasAdd / biasBackward (accumulates), in place', (nat) => {
  for (const R of ROWS) {
    for (const C of COLS) {
      const inp = rand(R * C);
      const bias = rand(C);
      const oj = new Float32Array(R * C);
      const on = new Float32Array(R * C);
      js.biasAdd(oj, inp, bias, R, C);
      nat.biasAdd(on, inp, bias, R, C);
      close(on, oj, `biasAdd R=${R} C=${C}`);
      const ip = copy(inp);
      nat.biasAdd(ip, ip, bias, R, C); // out aliases inp
      close(ip, oj, `biasAdd in place R=${R} C=${C}`);
      const dout = rand(R * C);
      const db0 = rand(C);
      const dbj = copy(db0);
      const dbn = copy(db0);
      js.biasBackward(dbj, dout, R, C);
      nat.biasBackward(dbn, dout, R, C);
      close(dbn, dbj, `biasBackward R=${R} C=${C}`);
    }
  }
});

ntest('gelu forward/backward (exact erf form), tanh forward/backward', (nat) => {
  for (const N of SIZES) {
    const x = rand(N, 6);
    if (N > 3) {
      x[0] = -20;
      x[1] = 20;
      x[2] = 0;
      x[3] = -1e-20;
    }
    for (const [name, fwd, bwd, savedIsOut] of [
      ['gelu', 'geluForward', 'geluBackward', false],
      ['tanh', 'tanhForward', 'tanhBackward', true],
    ] as const) {
      const oj = new Float32Array(N);
      const on = new Float32Array(N);
      js[fwd](oj, x, N);
      nat[fwd](on, x, N);
      close(on, oj, `${name} forward N=${N}`, { rel: 1e-5, abs: 1e-6 });
      const dout = rand(N);
      const d0 = rand(N);
      const dj = copy(d0);
      const dn = copy(d0);
      js[bwd](dj, dout, savedIsOut ? oj : x, N);
      nat[bwd](dn, dout, savedIsOut ? oj : x, N);
      close(dn, dj, `${name} backward N=${N}`, { rel: 1e-5, abs: 1e-6 });
    }
  }
});

ntest('layerNorm forward/backward, with and without dweight/dbias/dinp', (nat) => {
  for (const R of ROWS) {
    for (const C of COLS) {
      for (const eps of [1e-12, 1e-5]) {
        const inp = rand(R * C, 2, 3); // mean far from 0 tests the centring
        const w = rand(C, 1, 1);
        const b = rand(C);
        const oj = new Float32Array(R * C);
        const on = new Float32Array(R * C);
        const mj = new Float32Array(R);
        const mn = new Float32Array(R);
        const sj = new Float32Array(R);
        const sn = new Float32Array(R);
        js.layerNormForward(oj, mj, sj, inp, w, b, R, C, eps);
        nat.layerNormForward(on, mn, sn, inp, w, b, R, C, eps);
        const what = `layerNorm R=${R} C=${C} eps=${eps}`;
        close(on, oj, `${what} out`);
        close(mn, mj, `${what} mean`);
        close(sn, sj, `${what} rstd`, { rel: C === 1 ? 1e-3 : 1e-4 });
        const dout = rand(R * C);
        for (const withParams of [true, false]) {
          const di0 = rand(R * C);
          const dw0 = rand(C);
          const db0 = rand(C);
          const [dij, dwj, dbj] = [copy(di0), copy(dw0), copy(db0)];
          const [din, dwn, dbn] = [copy(di0), copy(dw0), copy(db0)];
          js.layerNormBackward(dij, withParams ? dwj : null, withParams ? dbj : null, dout, inp, w, mj, sj, R, C);
          nat.layerNormBackward(din, withParams ? dwn : null, withParams ? dbn : null, dout, inp, w, mj, sj, R, C);
          // C = 1 normalises to exactly 0 in theory; eps makes dinp tiny but noisy.
          close(din, dij, `${what} dinp`, { rel: 1e-4, abs: C === 1 ? 1e-3 : 1e-5 });
          close(dwn, dwj, `${what} dweight`);
          close(dbn, dbj, `${what} dbias`);
          assert.deepEqual(withParams ? [] : [...dwn], withParams ? [] : [...dw0], 'frozen dweight untouched');
        }
        // Frozen input: only the parameter gradients.
        const dw0 = rand(C);
        const [dwj, dwn] = [copy(dw0), copy(dw0)];
        js.layerNormBackward(null, dwj, null, dout, inp, w, mj, sj, R, C);
        nat.layerNormBackward(null, dwn, null, dout, inp, w, mj, sj, R, C);
        close(dwn, dwj, `${what} dweight only`);
      }
    }
  }
});

ntest('softmax forward/backward: scale, mask, rowsPerMask, fully masked rows', (nat) => {
  for (const R of ROWS) {
    for (const C of [...COLS, 0]) {
      for (const rowsPerMask of [1, 3]) {
        for (const useMask of [false, true]) {
          const inp = rand(R * C, 4);
          const maskRows = Math.ceil(R / rowsPerMask);
          const mask = useMask ? new Float32Array(maskRows * C) : null;
          if (mask) {
            const r = rng(R * 1000 + C);
            for (let i = 0; i < mask.length; i++) mask[i] = r() < 0.3 ? -10000 : 0;
            // One mask row dropped entirely with -Infinity: those rows must be zeros.
            if (maskRows > 1) mask.fill(-Infinity, C, 2 * C);
          }
          const oj = new Float32Array(R * C);
          const on = new Float32Array(R * C);
          js.softmaxForward(oj, inp, mask, 0.125, R, C, rowsPerMask);
          nat.softmaxForward(on, inp, mask, 0.125, R, C, rowsPerMask);
          const what = `softmax R=${R} C=${C} rowsPerMask=${rowsPerMask} mask=${useMask}`;
          close(on, oj, `${what} out`, { rel: 1e-5, abs: 1e-7 });
          if (mask && maskRows > 1) {
            for (let r = rowsPerMask; r < Math.min(R, 2 * rowsPerMask); r++) {
              for (let c = 0; c < C; c++) assert.equal(on[r * C + c], 0, `${what}: masked row ${r} is zeros`);
            }
          }
          const dout = rand(R * C);
          const d0 = rand(R * C);
          const [dj, dn] = [copy(d0), copy(d0)];
          js.softmaxBackward(dj, dout, oj, 0.125, R, C);
          nat.softmaxBackward(dn, dout, oj, 0.125, R, C);
          close(dn, dj, `${what} dinp`);
        }
      }
    }
  }
});

ntest('logSoftmax forward/backward, up to a vocabulary-sized row', (nat) => {
  for (const [R, C] of [[0, 5], [1, 1], [3, 17], [17, 67], [4, 30522], [2, 1000]] as const) {
    const inp = rand(R * C, 30);
    const oj = new Float32Array(R * C);
    const on = new Float32Array(R * C);
    js.logSoftmaxForward(oj, inp, R, C);
    nat.logSoftmaxForward(on, inp, R, C);
    close(on, oj, `logSoftmax R=${R} C=${C}`, { rel: 1e-5, abs: 1e-5 });
    const dout = rand(R * C);
    const d0 = rand(R * C);
    const [dj, dn] = [copy(d0), copy(d0)];
    js.logSoftmaxBackward(dj, dout, oj, R, C);
    nat.logSoftmaxBackward(dn, dout, oj, R, C);
    close(dn, dj, `logSoftmax backward R=${R} C=${C}`, { rel: 1e-4, abs: 1e-5 * Math.sqrt(C) });
  }
});

ntest('embedding forward/backward with repeated ids (scatter-add accumulates)', (nat) => {
  for (const [N, C, V] of [[0, 4, 3], [1, 1, 1], [17, 3, 5], [67, 67, 10]] as const) {
    const table = rand(V * C);
    const ids = new Int32Array(N);
    const r = rng(N + C);
    for (let i = 0; i < N; i++) ids[i] = Math.floor(r() * V);
    if (N > 2) ids[1] = ids[0]!;
    const oj = new Float32Array(N * C);
    const on = new Float32Array(N * C);
    js.embeddingForward(oj, ids, table, N, C);
    nat.embeddingForward(on, ids, table, N, C);
    assert.deepEqual(on, oj, `embeddingForward N=${N} C=${C}`);
    const dout = rand(N * C);
    const dt0 = rand(V * C);
    const [dj, dn] = [copy(dt0), copy(dt0)];
    js.embeddingBackward(dj, dout, ids, N, C);
    nat.embeddingBackward(dn, dout, ids, N, C);
    close(dn, dj, `embeddingBackward N=${N} C=${C}`);
  }
});

ntest('dropout: masks and outputs bit-identical to js, backward accumulates', (nat) => {
  const addon = nativeAddon!;
  for (const seed of [0, 1, 12345, 0xffffffff, 2 ** 31, -1, 3.7]) {
    for (let i = 0; i < 2000; i += 7) assert.equal(addon.hash32(seed, i), hash32(seed, i), `hash32(${seed}, ${i})`);
  }
  for (const N of SIZES) {
    for (const p of [0, 0.1, 0.5, 0.9]) {
      for (const seed of [0, 42, 0xdeadbeef, -7]) {
        const inp = rand(N);
        const [oj, on] = [new Float32Array(N), new Float32Array(N)];
        const [kj, kn] = [new Uint8Array(N), new Uint8Array(N)];
        js.dropoutForward(oj, kj, inp, N, p, seed);
        nat.dropoutForward(on, kn, inp, N, p, seed);
        const what = `dropout N=${N} p=${p} seed=${seed}`;
        assert.deepEqual(kn, kj, `${what}: keep mask`);
        assert.deepEqual(on, oj, `${what}: out`);
        const dout = rand(N);
        const d0 = rand(N);
        const [dj, dn] = [copy(d0), copy(d0)];
        js.dropoutBackward(dj, dout, kj, N, p);
        nat.dropoutBackward(dn, dout, kn, N, p);
        assert.deepEqual(dn, dj, `${what}: dinp`);
      }
    }
  }
});

ntest('add, axpy (offsets), scale, sum, sumSquaredDiff, maxAbs', (nat) => {
  for (const N of SIZES) {
    const a = rand(N, 3);
    const b = rand(N, 3);
    const [oj, on] = [new Float32Array(N), new Float32Array(N)];
    js.add(oj, a, b, N);
    nat.add(on, a, b, N);
    close(on, oj, `add N=${N}`, { rel: 0, abs: 0 });
    const ai = copy(a);
    nat.add(ai, ai, b, N); // out aliases a
    close(ai, oj, `add in place N=${N}`, { rel: 0, abs: 0 });

    const x = rand(N + 5);
    const y0 = rand(N + 9);
    const [yj, yn] = [copy(y0), copy(y0)];
    js.axpy(N, -0.3, x, 5, yj, 9);
    nat.axpy(N, -0.3, x, 5, yn, 9);
    close(yn, yj, `axpy N=${N}`, { rel: 0, abs: 0 });

    const [sj, sn] = [copy(a), copy(a)];
    js.scale(sj, N, 1 / 3);
    nat.scale(sn, N, 1 / 3);
    close(sn, sj, `scale N=${N}`, { rel: 0, abs: 0 });

    closeNum(nat.sum(a, N), js.sum(a, N), `sum N=${N}`, { rel: 1e-12, abs: 1e-9 });
    closeNum(nat.sumSquaredDiff(a, b, N), js.sumSquaredDiff(a, b, N), `sumSquaredDiff N=${N}`, { rel: 1e-12, abs: 1e-9 });
    closeNum(nat.sumSquaredDiff(a, null, N), js.sumSquaredDiff(a, null, N), `sumSquaredDiff(null) N=${N}`, { rel: 1e-12, abs: 1e-9 });
    assert.equal(nat.maxAbs(a, N), js.maxAbs(a, N), `maxAbs N=${N}`);
  }
  assert.equal(nat.maxAbs(new Float32Array(0), 0), 0);
  assert.equal(nat.maxAbs(new Float32Array([NaN, -2, 1]), 3), 2, 'maxAbs skips NaN like js');
});

ntest('firstNonFinite: the first NaN or ±Infinity, at every position, block edge and tail', (nat) => {
  for (const N of [0, 1, 3, 4095, 4096, 4097, 10_000]) {
    const a = new Float32Array(N).map((_, i) => Math.sin(i) * 3.4e38); // large but finite, incl. near FLT_MAX
    assert.equal(nat.firstNonFinite(a, N), -1, `finite N=${N}`);
    assert.equal(js.firstNonFinite(a, N), -1, `js finite N=${N}`);
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const at of [0, N >> 1, 4095, 4096, N - 1].filter((k) => k >= 0 && k < N)) {
        const b = a.slice();
        b[at] = bad;
        if (at + 7 < N) b[at + 7] = NaN; // a later one must not be reported instead
        assert.equal(nat.firstNonFinite(b, N), at, `native ${bad} at ${at} of ${N}`);
        assert.equal(js.firstNonFinite(b, N), at, `js ${bad} at ${at} of ${N}`);
      }
    }
  }
  // Only the first N elements count; a view into shared memory (how large checkpoints are read) works.
  assert.equal(nat.firstNonFinite(new Float32Array([1, 2, NaN]), 2), -1);
  const shared = new Float32Array(new SharedArrayBuffer(64 * 4), 16, 32);
  shared[31] = -Infinity;
  assert.equal(nat.firstNonFinite(shared, 32), 31);
});

ntest('adamStep matches js (bias correction, decoupled weight decay)', (nat) => {
  for (const N of SIZES) {
    for (const [step, wd] of [[1, 0], [10, 0.01]] as const) {
      const p0 = rand(N);
      const g = rand(N, 0.1);
      const m0 = rand(N, 0.01);
      const v0 = rand(N, 0.001, 0.001);
      const [pj, mj, vj] = [copy(p0), copy(m0), copy(v0)];
      const [pn, mn, vn] = [copy(p0), copy(m0), copy(v0)];
      js.adamStep(pj, g, mj, vj, N, 1e-3, 0.9, 0.999, 1e-8, wd, step);
      nat.adamStep(pn, g, mn, vn, N, 1e-3, 0.9, 0.999, 1e-8, wd, step);
      const what = `adamStep N=${N} step=${step}`;
      close(mn, mj, `${what} m`, { rel: 1e-6, abs: 1e-9 });
      close(vn, vj, `${what} v`, { rel: 1e-6, abs: 1e-12 });
      close(pn, pj, `${what} param`, { rel: 1e-6, abs: 1e-8 });
    }
  }
});

// ---------------------------------------------------------------------------
// Bad calls throw, naming the kernel, instead of crashing

// ---------------------------------------------------------------------------
// Fused kernels

ntest('crossEntropy forward/backward (fused): lse, loss, ignored rows, overwrite and accumulate', (nat) => {
  for (const [R, C] of [[0, 5], [1, 1], [3, 17], [17, 67], [4, 30522], [5, 1000]] as const) {
    const logits = rand(R * C, 30);
    const labels = new Int32Array(R);
    const r = rng(R * 31 + C);
    for (let i = 0; i < R; i++) labels[i] = i % 3 === 1 ? -100 : Math.floor(r() * C);
    const [lj, ln] = [new Float32Array(R), new Float32Array(R)];
    const sj = js.crossEntropyForward(lj, logits, labels, R, C, -100);
    const sn = nat.crossEntropyForward(ln, logits, labels, R, C, -100);
    const what = `crossEntropy R=${R} C=${C}`;
    closeNum(sn, sj, `${what} loss sum`, { rel: 1e-5, abs: 1e-5 });
    close(ln, lj, `${what} lse`, { rel: 1e-6, abs: 1e-5 });
    // Against the unfused reference: -Σ log_softmax[label].
    const logp = new Float32Array(R * C);
    js.logSoftmaxForward(logp, logits, R, C);
    let ref = 0;
    for (let i = 0; i < R; i++) if (labels[i] !== -100) ref -= logp[i * C + labels[i]!]!;
    closeNum(sn, ref, `${what} loss vs logSoftmax`, { rel: 1e-5, abs: 1e-4 });
    for (const accumulate of [false, true]) {
      const d0 = accumulate ? rand(R * C) : new Float32Array(R * C).fill(NaN);
      const [dj, dn] = [copy(d0), copy(d0)];
      js.crossEntropyBackward(dj, logits, lj, labels, R, C, 0.37, -100, accumulate);
      nat.crossEntropyBackward(dn, logits, lj, labels, R, C, 0.37, -100, accumulate);
      close(dn, dj, `${what} backward accumulate=${accumulate}`, { rel: 1e-4, abs: 1e-6 });
      if (!accumulate) for (let i = 0; i < R; i++) if (labels[i] === -100) assert.ok(dn.subarray(i * C, (i + 1) * C).every((x) => x === 0), `${what}: ignored row ${i} zeroed`);
    }
  }
  assert.throws(() => nat.crossEntropyForward(new Float32Array(2), new Float32Array(6), Int32Array.from([0, 3]), 2, 3, -100),
    (e: Error) => e instanceof RangeError && /crossEntropyForward/.test(e.message) && /labels\[1\] = 3/.test(e.message));
});

ntest('addLayerNorm forward/backward (fused dropout + residual + layerNorm)', (nat) => {
  for (const R of ROWS) {
    for (const C of COLS) {
      for (const [p, seed] of [[0, 0], [0.1, 1234], [0.5, 0xdeadbeef]] as const) {
        const x = rand(R * C, 2, 1);
        const res = rand(R * C, 2, 2);
        const w = rand(C, 1, 1);
        const b = rand(C);
        const N = R * C;
        const what = `addLayerNorm R=${R} C=${C} p=${p}`;
        const [oj, on, sj, sn] = [new Float32Array(N), new Float32Array(N), new Float32Array(N), new Float32Array(N)];
        const [mj, mn, rj, rn] = [new Float32Array(R), new Float32Array(R), new Float32Array(R), new Float32Array(R)];
        js.addLayerNormForward(oj, sj, mj, rj, x, res, w, b, R, C, 1e-12, p, seed);
        nat.addLayerNormForward(on, sn, mn, rn, x, res, w, b, R, C, 1e-12, p, seed);
        // sum is exactly dropoutForward + add (same mask, same rounding).
        const dropped = new Float32Array(N);
        nat.dropoutForward(dropped, new Uint8Array(N), x, N, p, seed);
        const sumRef = new Float32Array(N);
        nat.add(sumRef, dropped, res, N);
        assert.deepEqual(sn, sumRef, `${what}: sum = dropout(x) + res bit for bit`);
        assert.deepEqual(sj, sumRef, `${what}: js sum = dropout(x) + res bit for bit`);
        close(on, oj, `${what} out`);
        close(mn, mj, `${what} mean`);
        close(rn, rj, `${what} rstd`, { rel: C === 1 ? 1e-3 : 1e-4 });
        const dout = rand(N);
        for (const accumulate of [false, true]) {
          const init = () => (accumulate ? rand(N) : new Float32Array(N).fill(NaN));
          const [dx0, dr0, dw0, db0] = [init(), init(), rand(C), rand(C)];
          const [dxj, drj, dwj, dbj] = [copy(dx0), copy(dr0), copy(dw0), copy(db0)];
          const [dxn, drn, dwn, dbn] = [copy(dx0), copy(dr0), copy(dw0), copy(db0)];
          js.addLayerNormBackward(dxj, drj, dwj, dbj, dout, sj, w, mj, rj, R, C, p, seed, accumulate, accumulate);
          nat.addLayerNormBackward(dxn, drn, dwn, dbn, dout, sj, w, mj, rj, R, C, p, seed, accumulate, accumulate);
          const abs = C === 1 ? 1e-3 : 1e-5;
          close(dxn, dxj, `${what} dx acc=${accumulate}`, { rel: 1e-4, abs });
          close(drn, drj, `${what} dres acc=${accumulate}`, { rel: 1e-4, abs });
          close(dwn, dwj, `${what} dweight`);
          close(dbn, dbj, `${what} dbias`);
          // Against the unfused kernels: ds from layerNormBackward, then add's and dropout's backward.
          if (!accumulate) {
            const ds = new Float32Array(N);
            nat.layerNormBackward(ds, null, null, dout, sj, w, mj, rj, R, C);
            close(drn, ds, `${what} dres vs layerNormBackward`, { rel: 1e-6, abs: 1e-7 });
            const keep = new Uint8Array(N);
            nat.dropoutForward(new Float32Array(N), keep, x, N, p, seed);
            const dxRef = new Float32Array(N);
            nat.dropoutBackward(dxRef, ds, keep, N, p);
            close(dxn, dxRef, `${what} dx vs dropoutBackward`, { rel: 1e-6, abs: 1e-7 });
          }
        }
        // Frozen branches and parameters: nothing else is touched.
        const dr0 = rand(N);
        const drn = copy(dr0);
        nat.addLayerNormBackward(null, drn, null, null, dout, sj, w, mj, rj, R, C, p, seed, false, true);
        const drj = copy(dr0);
        js.addLayerNormBackward(null, drj, null, null, dout, sj, w, mj, rj, R, C, p, seed, false, true);
        close(drn, drj, `${what} dres only`, { rel: 1e-4, abs: C === 1 ? 1e-3 : 1e-5 });
      }
    }
  }
});

ntest('biasGelu forward/backward (fused bias + GELU), in place', (nat) => {
  for (const R of ROWS) {
    for (const C of COLS) {
      const inp = rand(R * C, 4);
      const bias = rand(C);
      const N = R * C;
      const [oj, on, pj, pn] = [new Float32Array(N), new Float32Array(N), new Float32Array(N), new Float32Array(N)];
      js.biasGeluForward(oj, pj, inp, bias, R, C);
      nat.biasGeluForward(on, pn, inp, bias, R, C);
      const what = `biasGelu R=${R} C=${C}`;
      close(pn, pj, `${what} pre`, { rel: 0, abs: 0 });
      close(on, oj, `${what} out`, { rel: 1e-5, abs: 1e-6 });
      const ip = copy(inp);
      nat.biasGeluForward(on, ip, ip, bias, R, C); // pre aliases inp
      close(ip, pj, `${what} pre in place`, { rel: 0, abs: 0 });
      const dout = rand(N);
      const db0 = rand(C);
      const [dbj, dbn] = [copy(db0), copy(db0)];
      const [dj, dn] = [new Float32Array(N), new Float32Array(N).fill(NaN)];
      js.biasGeluBackward(dj, dbj, dout, pj, R, C);
      nat.biasGeluBackward(dn, dbn, dout, pj, R, C);
      close(dn, dj, `${what} dpre`, { rel: 1e-5, abs: 1e-6 });
      close(dbn, dbj, `${what} dbias`, { rel: 1e-4, abs: 1e-5 });
      nat.biasGeluBackward(dn, null, dout, pj, R, C);
      close(dn, dj, `${what} dpre without dbias`, { rel: 1e-5, abs: 1e-6 });
    }
  }
});

ntest('adamStepMany = scale (clip) + adamStep + zeroed gradient per tensor; sumSquaresMany', (nat) => {
  const sizes = [0, 1, 17, 10007, 70000, 300000];
  for (const gradScale of [1, 0.37]) {
    const p0 = sizes.map((n) => rand(n));
    const g0 = sizes.map((n) => rand(n, 0.1));
    const m0 = sizes.map((n) => rand(n, 0.01));
    const v0 = sizes.map((n) => rand(n, 0.001, 0.001));
    const wds = sizes.map((_, i) => (i % 2 ? 0.01 : 0));
    const [pn, gn, mn, vn] = [p0.map(copy), g0.map(copy), m0.map(copy), v0.map(copy)];
    nat.adamStepMany(pn, gn, mn, vn, wds, 1e-3, 0.9, 0.999, 1e-6, 7, gradScale);
    sizes.forEach((n, i) => {
      const [pr, gr, mr, vr] = [copy(p0[i]!), copy(g0[i]!), copy(m0[i]!), copy(v0[i]!)];
      if (gradScale !== 1) nat.scale(gr, n, gradScale);
      nat.adamStep(pr, gr, mr, vr, n, 1e-3, 0.9, 0.999, 1e-6, wds[i]!, 7);
      const what = `adamStepMany tensor ${i} (n=${n}) scale=${gradScale}`;
      assert.deepEqual(pn[i], pr, `${what}: param equals adamStep's`);
      assert.deepEqual(mn[i], mr, `${what}: m`);
      assert.deepEqual(vn[i], vr, `${what}: v`);
      assert.ok(gn[i]!.every((x) => x === 0), `${what}: gradient zeroed`);
    });
    const [pj, gj, mj, vj] = [p0.map(copy), g0.map(copy), m0.map(copy), v0.map(copy)];
    js.adamStepMany(pj, gj, mj, vj, wds, 1e-3, 0.9, 0.999, 1e-6, 7, gradScale);
    sizes.forEach((_, i) => close(pn[i]!, pj[i]!, `adamStepMany vs js tensor ${i}`, { rel: 1e-6, abs: 1e-8 }));
  }
  const xs = sizes.map((n) => rand(n, 2));
  const ref = xs.reduce((s, x) => s + js.sumSquaredDiff(x, null, x.length), 0);
  closeNum(nat.sumSquaresMany(xs), ref, 'sumSquaresMany', { rel: 1e-12, abs: 1e-9 });
  closeNum(js.sumSquaresMany(xs), ref, 'js sumSquaresMany', { rel: 1e-12, abs: 1e-9 });
  assert.equal(nat.sumSquaresMany([]), 0);
  assert.throws(() => nat.adamStepMany([new Float32Array(3)], [new Float32Array(2)], [new Float32Array(3)], [new Float32Array(3)], [0], 1e-3, 0.9, 0.999, 1e-8, 1, 1),
    (e: Error) => e instanceof RangeError && /adamStepMany/.test(e.message) && /tensor 0/.test(e.message));
  assert.throws(() => nat.sumSquaresMany([new Float64Array(2) as unknown as Float32Array]),
    (e: Error) => e instanceof TypeError && /sumSquaresMany/.test(e.message) && /xs\[0\]/.test(e.message));
});

ntest('bad inputs throw clear errors', (nat) => {
  const f = (n: number) => new Float32Array(n);
  // Too-short buffers.
  assert.throws(() => nat.sgemm(false, false, 4, 4, 4, 1, f(15), 0, 4, f(16), 0, 4, 0, f(16), 0, 4),
    (e: Error) => e instanceof RangeError && /sgemm/.test(e.message) && /\bA\b/.test(e.message) && /16/.test(e.message));
  assert.throws(() => nat.sgemm(false, false, 4, 4, 4, 1, f(16), 1, 4, f(16), 0, 4, 0, f(16), 0, 4), /native sgemm: A is too short/);
  assert.throws(() => nat.sgemm(false, true, 4, 4, 4, 1, f(16), 0, 4, f(16), 0, 4, 0, f(16), 0, 5), /native sgemm: C is too short/);
  assert.throws(() => nat.sgemm(true, false, 4, 4, 4, 1, f(16), 0, 3, f(16), 0, 4, 0, f(16), 0, 4), /lda=3 is smaller/);
  assert.throws(() => nat.sgemmBatched(false, false, 2, 2, 2, 1, f(8), 0, 2, 4, 0, f(12), 0, 2, 4, 0, 0, f(12), 0, 2, 4, 0, 3, 1),
    /native sgemmBatched: A is too short: A stored 2x2 \(offset 0, lda=2, last matrix at \+8\) needs 12 elements, but it has 8/);
  assert.throws(() => nat.biasAdd(f(5), f(6), f(3), 2, 3), /native biasAdd: out is too short/);
  assert.throws(() => nat.softmaxForward(f(6), f(6), f(3), 1, 2, 3, 1), /native softmaxForward: mask is too short/);
  assert.throws(() => nat.softmaxForward(f(6), f(6), f(6), 1, 2, 3, 0), /rowsPerMask/);
  assert.throws(() => nat.layerNormForward(f(6), f(1), f(2), f(6), f(3), f(3), 2, 3, 1e-5), /native layerNormForward: mean is too short/);
  assert.throws(() => nat.dropoutForward(f(4), new Uint8Array(3), f(4), 4, 0.1, 1), /native dropoutForward: keep is too short/);
  assert.throws(() => nat.axpy(4, 1, f(4), 1, f(8), 0), /native axpy: x is too short/);
  // Float64Array (native is float32-only).
  assert.throws(() => nat.geluForward(new Float64Array(4), f(4), 4),
    (e: Error) => e instanceof TypeError && /geluForward/.test(e.message) && /Float32Array/.test(e.message) && /Float64Array/.test(e.message));
  assert.throws(() => nat.sgemm(false, false, 1, 1, 1, 1, new Float64Array(1), 0, 1, f(1), 0, 1, 0, f(1), 0, 1), /native sgemm: A must be a Float32Array/);
  assert.throws(() => nat.sum(new Float64Array(3), 3), /native sum: x must be a Float32Array/);
  // Embedding ids outside the table.
  const table = f(12); // 4 rows of C = 3
  assert.throws(() => nat.embeddingForward(f(6), new Int32Array([1, 4]), table, 2, 3),
    (e: Error) => e instanceof RangeError && /embeddingForward/.test(e.message) && /ids\[1\] = 4/.test(e.message));
  assert.throws(() => nat.embeddingForward(f(6), new Int32Array([-1, 0]), table, 2, 3), /ids\[0\] = -1 is out of range \[0, 4\)/);
  const dtable = f(12);
  assert.throws(() => nat.embeddingBackward(dtable, f(6).fill(1), new Int32Array([0, 9]), 2, 3), /embeddingBackward/);
  assert.deepEqual(dtable, f(12), 'nothing scattered when an id is bad');
  assert.throws(() => nat.embeddingForward(f(6), new Int32Array(1), table, 2, 3), /ids is too short/);
  // Negative, fractional, non-number sizes.
  assert.throws(() => nat.geluForward(f(4), f(4), -1), /native geluForward: N must be a non-negative integer, got -1/);
  assert.throws(() => nat.softmaxForward(f(4), f(4), null, 1, 1.5, 2, 1), /R must be a non-negative integer/);
  assert.throws(() => nat.sgemm(false, false, -2, 2, 2, 1, f(4), 0, 2, f(4), 0, 2, 0, f(4), 0, 2), /M must be a non-negative integer/);
  assert.throws(() => nat.scale(f(4), NaN, 2), /N must be a non-negative integer/);
  assert.throws(() => (nat.sum as (...a: unknown[]) => number)(f(4), '4'), /N must be a number/);
  assert.throws(() => (nat.sum as (...a: unknown[]) => number)(f(4)), /expected 2 arguments/);
  assert.throws(() => (nat.add as (...a: unknown[]) => void)(f(4), [1, 2, 3, 4], f(4), 4), /a must be a Float32Array/);
  // Empty work is a no-op even with empty buffers.
  nat.sgemm(false, false, 0, 0, 0, 1, f(0), 0, 0, f(0), 0, 0, 0, f(0), 0, 0);
  nat.sgemmBatched(false, false, 2, 2, 2, 1, f(0), 0, 2, 4, 0, f(0), 0, 2, 4, 0, 0, f(0), 0, 2, 4, 0, 0, 5);
  nat.softmaxForward(f(0), f(0), null, 1, 0, 7, 1);
  nat.layerNormForward(f(0), f(0), f(0), f(0), f(0), f(0), 0, 8, 1e-5);
  nat.embeddingBackward(f(0), f(0), new Int32Array(0), 0, 4);
  assert.equal(nat.sum(f(0), 0), 0);
});

ntest('subarray views (byteOffset) are addressed from their own start', (nat) => {
  const big = rand(64);
  const view = big.subarray(10, 30);
  const oj = new Float32Array(20);
  const on = new Float32Array(20);
  js.geluForward(oj, view, 20);
  nat.geluForward(on, view, 20);
  close(on, oj, 'gelu on a subarray', { rel: 1e-5, abs: 1e-6 });
  assert.throws(() => nat.geluForward(new Float32Array(21), view, 21), /inp is too short: N=21 needs 21 elements, but it has 20/);
});
