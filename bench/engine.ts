/**
 * npm run bench:engine [-- --json]
 * Measures in one run: (a) sgemm GFLOP/s on 2048×768×768, (b) one
 * BERT-base-shaped encoder layer (H 768, 12 heads, FF 3072) forward +
 * backward-to-input on 32×64 tokens, as GFLOP/s and as a ratio to (a),
 * (c) the same layer on the js backend; and where the layer's time goes;
 * (d) a DeBERTa-v3-base-shaped layer (disentangled attention: c2p + p2c,
 * 256 log buckets, shared keys, LayerNorm'd relative embeddings) against a
 * BERT-base-shaped one, both as a one-layer Encoder fwd + bwd-to-input on
 * the same 4×128 tokens with padding (goal: DeBERTa within 1.5×);
 * (e) an XLNet-base-shaped layer (relative attention: the position term
 * through the sinusoid table and rel shift, the segment term, the
 * per-query content mask) on the same tokens, against the same BERT layer.
 */
import {
  backward, disableProfiling, enableProfiling, gemmCounters, kernelTimes, resetGemmCounters, resetProfile,
  setBackend, Tensor, withScope, backendName, describeBackend, nativeAvailable,
} from '../src/engine/index.js';
import { createEncoderConfig, type EncoderConfig } from '../src/formats/hf-config.js';
import { Encoder, type LayerWeights, layerForward, initParam } from '../src/models/encoder.js';
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

/** Seconds of one fwd + bwd-to-input step of a frozen one-layer encoder on B×T tokens (the second half of each other row padded). */
function encoderStep(config: EncoderConfig, B: number, T: number, minSeconds: number): number {
  const enc = Encoder.init(config, 5);
  const rng = new Rng(6);
  const E = config.embeddingSize;
  const x = Tensor.from(Array.from({ length: B * T * E }, () => rng.next() - 0.5), [B, T, E], { requiresGrad: true });
  const mask = Array.from({ length: B * T }, (_, n) => (Math.floor(n / T) % 2 === 1 && n % T >= T / 2 ? 0 : 1));
  const seed = Float32Array.from({ length: B * T * config.hiddenSize }, () => rng.next() - 0.5);
  return timeBest(() => withScope(() => {
    const out = enc.forward({ batch: B, seqLen: T, inputIds: new Int32Array(B * T), inputsEmbeds: x, attentionMask: mask, withPooler: false });
    backward(out.lastHiddenState, seed);
    x.zeroGrad();
  }), minSeconds);
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

// (d) Small vocabularies: the embedding tables are not what is timed.
const base = { vocabSize: 1000, numHiddenLayers: 1, hiddenSize: H, numAttentionHeads: heads, intermediateSize: F, hiddenDropoutProb: 0, attentionProbsDropoutProb: 0 };
const bertCfg = createEncoderConfig('bert', base);
const debertaCfg = createEncoderConfig('deberta-v2', base, {
  relative_attention: true, position_buckets: 256, max_relative_positions: -1, share_att_key: true, norm_rel_ebd: 'layer_norm',
  pos_att_type: 'p2c|c2p', position_biased_input: false,
});
const DB = 4, DT = 128;
const bertStep = encoderStep(bertCfg, DB, DT, 2);
const debertaStep = encoderStep(debertaCfg, DB, DT, 2);
const debertaRatio = debertaStep / bertStep;
log(`(d) one-layer encoder fwd+bwd-to-input, ${DB}×${DT} tokens: BERT-base ${(bertStep * 1000).toFixed(1)} ms, DeBERTa-v3-base ${(debertaStep * 1000).toFixed(1)} ms: ${debertaRatio.toFixed(2)}× (goal ≤ 1.5×)`);
// (e) XLNet's keys: d_model, n_head, d_inner, dropout (xlnet-base-cased's shape, one layer). No token types given:
// the tokenizer's one-sentence types, so the segment term is computed.
const xlnetCfg = createEncoderConfig('xlnet', { vocabSize: 1000, numHiddenLayers: 1, hiddenSize: H, numAttentionHeads: heads, intermediateSize: F, hiddenDropoutProb: 0 });
const xlnetStep = encoderStep(xlnetCfg, DB, DT, 2);
const xlnetRatio = xlnetStep / bertStep;
log(`(e) one-layer encoder fwd+bwd-to-input, ${DB}×${DT} tokens: BERT-base ${(bertStep * 1000).toFixed(1)} ms, XLNet-base ${(xlnetStep * 1000).toFixed(1)} ms: ${xlnetRatio.toFixed(2)}×`);

if (json) {
  console.log(JSON.stringify({
    backend: describeBackend(),
    native_available: nativeAvailable(),
    sgemm_gflops: sgemm,
    layer_step_gflops: layer.gflops,
    layer_step_seconds: layer.seconds,
    layer_step_ratio: ratio,
    js_layer_step_gflops: jsLayer.gflops,
    bert_encoder_layer_seconds: bertStep,
    deberta_encoder_layer_seconds: debertaStep,
    deberta_to_bert_ratio: debertaRatio,
    xlnet_encoder_layer_seconds: xlnetStep,
    xlnet_to_bert_ratio: xlnetRatio,
    time_shares: Object.fromEntries(shares),
  }));
}
