/**
 * npm run bench:engine [-- --json]
 * Measures in one run: (a) sgemm GFLOP/s on 2048×768×768, (b) one
 * BERT-base-shaped encoder layer (H 768, 12 heads, FF 3072) forward +
 * backward-to-input on 32×64 tokens, as GFLOP/s and as a ratio to (a),
 * (c) the same layer on the js backend; and where the layer's time goes.
 */
import {
  backward, disableProfiling, enableProfiling, gemmCounters, kernelTimes, resetGemmCounters, resetProfile,
  setBackend, Tensor, withScope, backendName, describeBackend, nativeAvailable,
} from '../src/engine/index.js';
import { type LayerWeights, layerForward, initParam } from '../src/models/encoder.js';
import { Rng } from '../src/text/random.js';
import { sgemmGflops, timeBest } from './common.js';

const json = process.argv.includes('--json');
const log = (...a: unknown[]) => {
  if (!json) console.log(...a);
};

function makeLayer(H: number, F: number): LayerWeights {
  const rng = new Rng(2);
  const p = (name: string, shape: number[]) => initParam(name, shape, 0.02, rng);
  const lin = (n: string, o: number, i: number): [Tensor, Tensor] => [p(`${n}.weight`, [o, i]), p(`${n}.bias`, [o])];
  return {
    q: lin('q', H, H), k: lin('k', H, H), v: lin('v', H, H), attnOut: lin('o', H, H),
    attnLn: [p('a.LayerNorm.weight', [H]), p('a.LayerNorm.bias', [H])],
    inter: lin('i', F, H), out: lin('out', H, F),
    outLn: [p('b.LayerNorm.weight', [H]), p('b.LayerNorm.bias', [H])],
  };
}

function layerStep(B: number, T: number, H: number, F: number, heads: number, minSeconds: number): { gflops: number; seconds: number } {
  const layer = makeLayer(H, F);
  const rng = new Rng(3);
  const x = Tensor.from(Array.from({ length: B * T * H }, () => rng.next() - 0.5), [B, T, H], { requiresGrad: true });
  const seed = Float32Array.from({ length: B * T * H }, () => rng.next() - 0.5);
  const step = () =>
    withScope(() => {
      const y = layerForward(layer, x, { heads, eps: 1e-12, mask: null });
      backward(y, seed);
      x.zeroGrad();
    });
  resetGemmCounters();
  step();
  const flopsPerStep = gemmCounters.flops;
  const seconds = timeBest(step, minSeconds);
  return { gflops: flopsPerStep / seconds / 1e9, seconds };
}

function profileShares(B: number, T: number, H: number, F: number, heads: number): [string, number][] {
  enableProfiling();
  resetProfile();
  layerStep(B, T, H, F, heads, 0.5);
  disableProfiling();
  const total = [...kernelTimes.values()].reduce((s, r) => s + r.seconds, 0);
  return [...kernelTimes.entries()].map(([k, r]) => [k, r.seconds / total] as [string, number]).sort((a, b) => b[1] - a[1]);
}

const B = 32, T = 64, H = 768, F = 3072, heads = 12;
log(`backend: ${describeBackend()}`);
const sgemm = sgemmGflops();
log(`(a) sgemm 2048×768×768: ${sgemm.toFixed(1)} GFLOP/s`);
const layer = layerStep(B, T, H, F, heads, 3);
const ratio = layer.gflops / sgemm;
log(`(b) BERT-base layer fwd+bwd-to-input, ${B}×${T} tokens: ${layer.gflops.toFixed(1)} GFLOP/s (${(layer.seconds * 1000).toFixed(1)} ms/step), ratio to sgemm ${ratio.toFixed(3)}`);
const shares = profileShares(B, T, H, F, heads);
log('    time shares (profiled run):');
for (const [k, s] of shares) log(`      ${k.padEnd(20)} ${(100 * s).toFixed(1)}%`);

const active = backendName();
setBackend('js');
// The js layer is ~100× slower: a smaller batch keeps the run short; GFLOP/s is per-FLOP anyway.
const jsLayer = layerStep(2, T, H, F, heads, 2);
log(`(c) same layer, js backend (2×${T} tokens): ${jsLayer.gflops.toFixed(2)} GFLOP/s; native/js speed-up ${(layer.gflops / jsLayer.gflops).toFixed(0)}×`);
if (active === 'native') setBackend('native');

if (json) {
  console.log(JSON.stringify({
    backend: describeBackend(),
    native_available: nativeAvailable(),
    sgemm_gflops: sgemm,
    layer_step_gflops: layer.gflops,
    layer_step_seconds: layer.seconds,
    layer_step_ratio: ratio,
    js_layer_step_gflops: jsLayer.gflops,
    time_shares: Object.fromEntries(shares),
  }));
}
