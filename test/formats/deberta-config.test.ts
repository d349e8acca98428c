/** DeBERTa's config switches: parsed and refused as transformers reads them, written back, counted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configToJson, createEncoderConfig, parameterCount, parseEncoderConfig } from '../../src/formats/hf-config.js';
import { assertFormatError } from './helpers.js';

const L = 'config.json';
const err = (json: unknown, pattern: RegExp) => assertFormatError(() => parseEncoderConfig(json, L), L, pattern);

// microsoft/deberta-v3-base, microsoft/deberta-base and microsoft/deberta-v2-xlarge as published.
export const DEBERTA_V3_BASE = {
  model_type: 'deberta-v2', attention_probs_dropout_prob: 0.1, hidden_act: 'gelu', hidden_dropout_prob: 0.1, hidden_size: 768,
  initializer_range: 0.02, intermediate_size: 3072, max_position_embeddings: 512, relative_attention: true, position_buckets: 256,
  norm_rel_ebd: 'layer_norm', share_att_key: true, pos_att_type: 'p2c|c2p', layer_norm_eps: 1e-7, max_relative_positions: -1,
  position_biased_input: false, num_attention_heads: 12, num_hidden_layers: 12, type_vocab_size: 0, vocab_size: 128100,
};
export const DEBERTA_BASE = {
  model_type: 'deberta', attention_probs_dropout_prob: 0.1, hidden_act: 'gelu', hidden_dropout_prob: 0.1, hidden_size: 768,
  initializer_range: 0.02, intermediate_size: 3072, max_position_embeddings: 512, relative_attention: true, pos_att_type: 'c2p|p2c',
  layer_norm_eps: 1e-7, max_relative_positions: -1, position_biased_input: false, num_attention_heads: 12, num_hidden_layers: 12,
  type_vocab_size: 0, vocab_size: 50265,
};
const DEBERTA_V2_XLARGE = {
  model_type: 'deberta-v2', attention_head_size: 64, attention_probs_dropout_prob: 0.1, conv_act: 'gelu', conv_kernel_size: 3,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, hidden_size: 1536, initializer_range: 0.02, intermediate_size: 6144, layer_norm_eps: 1e-7,
  max_position_embeddings: 512, max_relative_positions: -1, norm_rel_ebd: 'layer_norm', num_attention_heads: 24, num_hidden_layers: 24,
  pad_token_id: 0, pooler_dropout: 0, pooler_hidden_act: 'gelu', pooler_hidden_size: 1536, pos_att_type: ['p2c', 'c2p'],
  position_biased_input: false, position_buckets: 256, relative_attention: true, share_att_key: true, type_vocab_size: 0, vocab_size: 128100,
};

test('parses deberta-v3-base and deberta-base with their switches', () => {
  const v3 = parseEncoderConfig(DEBERTA_V3_BASE, L);
  assert.deepEqual([v3.modelType, v3.typeVocabSize, v3.layerNormEps, v3.embeddingSize], ['deberta-v2', 0, 1e-7, 768]);
  assert.deepEqual(v3.deberta, {
    version: 2, relativeAttention: true, maxRelativePositions: -1, positionBuckets: 256, posAttType: ['p2c', 'c2p'],
    positionBiasedInput: false, shareAttKey: true, normRelEmbedding: true, poolerHiddenAct: 'gelu', poolerDropout: 0, conv: null,
  });
  const v1 = parseEncoderConfig(DEBERTA_BASE, L);
  assert.deepEqual([v1.modelType, v1.deberta!.version, v1.deberta!.posAttType, v1.deberta!.shareAttKey], ['deberta', 1, ['c2p', 'p2c'], false]);
  assert.equal(parameterCount(v1), 138601728, 'DebertaModel (deberta-base)');
});

test('absent switches take DebertaConfig / DebertaV2Config defaults', () => {
  const v2 = parseEncoderConfig({ model_type: 'deberta-v2' }, L);
  assert.deepEqual([v2.vocabSize, v2.hiddenSize, v2.numHiddenLayers, v2.numAttentionHeads, v2.intermediateSize, v2.typeVocabSize, v2.layerNormEps],
    [128100, 1536, 24, 24, 6144, 0, 1e-7]);
  assert.deepEqual(v2.deberta, {
    version: 2, relativeAttention: false, maxRelativePositions: -1, positionBuckets: -1, posAttType: [], positionBiasedInput: true,
    shareAttKey: false, normRelEmbedding: false, poolerHiddenAct: 'gelu', poolerDropout: 0, conv: null,
  });
  const v1 = parseEncoderConfig({ model_type: 'deberta' }, L);
  assert.deepEqual([v1.vocabSize, v1.hiddenSize, v1.typeVocabSize, v1.deberta!.positionBiasedInput], [50265, 768, 0, true]);
  // v2-only keys mean nothing to v1, as transformers ignores them there.
  const ignored = parseEncoderConfig({ ...DEBERTA_BASE, position_buckets: 256, share_att_key: true, norm_rel_ebd: 'layer_norm', conv_kernel_size: 3 }, L);
  assert.deepEqual(ignored.deberta, parseEncoderConfig(DEBERTA_BASE, L).deberta);
  // pos_att_type: a list as is, a string lower-cased and split, null for none.
  assert.deepEqual(parseEncoderConfig({ ...DEBERTA_BASE, pos_att_type: ' P2C | c2p ' }, L).deberta!.posAttType, ['p2c', 'c2p']);
  assert.deepEqual(parseEncoderConfig({ ...DEBERTA_BASE, pos_att_type: ['c2p'] }, L).deberta!.posAttType, ['c2p']);
  assert.deepEqual(parseEncoderConfig({ ...DEBERTA_BASE, pos_att_type: null }, L).deberta!.posAttType, []);
  assert.equal(parseEncoderConfig({ ...DEBERTA_V3_BASE, norm_rel_ebd: 'layer_norm|none' }, L).deberta!.normRelEmbedding, true);
  // DeBERTa factorises freely (embed_proj), and has no token types with type_vocab_size 0.
  assert.equal(parseEncoderConfig({ ...DEBERTA_V3_BASE, embedding_size: 128 }, L).embeddingSize, 128);
});

test('deberta-v2-xlarge: its ConvLayer is read (conv_act defaults to tanh), written back and counted', () => {
  const xl = parseEncoderConfig(DEBERTA_V2_XLARGE, L);
  assert.deepEqual(xl.deberta!.conv, { kernelSize: 3, act: 'gelu' });
  const { conv_act: _, ...tanhDefault } = DEBERTA_V2_XLARGE;
  assert.deepEqual(parseEncoderConfig(tanhDefault, L).deberta!.conv, { kernelSize: 3, act: 'tanh' });
  assert.equal(parseEncoderConfig({ ...DEBERTA_V2_XLARGE, conv_kernel_size: 0 }, L).deberta!.conv, null);
  // 884,593,152: DebertaV2Model's tensors as generate_deberta.py's shapes() lists them (a second, independent count).
  assert.equal(parameterCount(xl), 884593152);
  const out = JSON.parse(configToJson(xl)) as Record<string, unknown>;
  assert.deepEqual([out['conv_kernel_size'], out['conv_act'], out['conv_groups']], [3, 'gelu', 1]);
  assert.deepEqual({ ...parseEncoderConfig(out, L), raw: null }, { ...xl, raw: null });
  assert.equal(JSON.parse(configToJson(parseEncoderConfig(DEBERTA_V3_BASE, L)))['conv_kernel_size'], undefined, 'no ConvLayer, no key');
});

test('refuses what transformers would compute differently, one line naming the key', () => {
  err({ ...DEBERTA_V2_XLARGE, conv_kernel_size: 4 }, /"conv_kernel_size" 4 is even: transformers' ConvLayer pads .* expected an odd size/);
  err({ ...DEBERTA_V2_XLARGE, conv_kernel_size: 65 }, /"conv_kernel_size" is 65; expected an integer from -\d[\d,]* to 63/);
  err({ ...DEBERTA_V2_XLARGE, conv_groups: 2 }, /"conv_groups" 2: a grouped ConvLayer is not implemented/);
  err({ ...DEBERTA_V2_XLARGE, conv_act: 'relu' }, /unsupported conv_act "relu"; supported: "tanh", /);
  err({ ...DEBERTA_V3_BASE, pos_att_type: 'c2p|p2c|p2p' }, /"pos_att_type" has "p2p" \(position-to-position .*; supported: "c2p", "p2c"/);
  err({ ...DEBERTA_BASE, pos_att_type: ['c2p', 'c2p'] }, /"pos_att_type" lists "c2p" twice/);
  err({ ...DEBERTA_BASE, pos_att_type: 'c2p|' }, /"pos_att_type" has ""; supported/);
  err({ ...DEBERTA_BASE, pos_att_type: ['C2P'] }, /"pos_att_type" has "C2P"/);
  err({ ...DEBERTA_BASE, pos_att_type: 3 }, /"pos_att_type" is 3, expected a string/);
  err({ ...DEBERTA_BASE, talking_head: true }, /"talking_head": true is not supported/);
  err({ ...DEBERTA_V3_BASE, attention_head_size: 32 }, /"attention_head_size" is 32; only hidden_size \/ num_attention_heads = 64/);
  err({ ...DEBERTA_V3_BASE, relative_attention: 1 }, /"relative_attention" is 1, expected true or false/);
  err({ ...DEBERTA_V3_BASE, position_buckets: 1 }, /"position_buckets" 1 needs 2 <= position_buckets/);
  err({ ...DEBERTA_V3_BASE, position_buckets: 1024 }, /"position_buckets" 1024 needs .* < max_relative_positions - 1 = 511/);
  err({ ...DEBERTA_V3_BASE, max_relative_positions: 1.5 }, /"max_relative_positions" is 1.5; expected an integer/);
  err({ ...DEBERTA_V3_BASE, norm_rel_ebd: 'batch_norm' }, /"norm_rel_ebd" has "batch_norm"; supported: "layer_norm", "none"/);
  err({ ...DEBERTA_V3_BASE, pooler_hidden_size: 1024 }, /"pooler_hidden_size" is 1024; the classification head's ContextPooler/);
  err({ ...DEBERTA_V3_BASE, pooler_hidden_act: 'tanh' }, /unsupported pooler_hidden_act "tanh"/);
  err({ ...DEBERTA_V3_BASE, type_vocab_size: -1 }, /"type_vocab_size" is -1; expected an integer from 0/);
  err({ ...DEBERTA_V3_BASE, hidden_size: 770 }, /"hidden_size" 770 is not divisible/);
  // A size error is reported before the switches it would make meaningless.
  err({ ...DEBERTA_V3_BASE, max_position_embeddings: 0, position_buckets: 256 }, /"max_position_embeddings" is 0/);
});

test('configToJson writes the switches back as transformers reads them and round-trips', () => {
  for (const src of [DEBERTA_V3_BASE, DEBERTA_BASE]) {
    const c = parseEncoderConfig(src, L);
    const out = JSON.parse(configToJson(c)) as Record<string, unknown>;
    for (const [k, v] of Object.entries(src)) {
      // transformers' config classes turn the "a|b" string into a list, and save the list.
      assert.deepEqual(out[k], k === 'pos_att_type' ? (v as string).split('|') : v, `${src.model_type}.${k}`);
    }
    assert.equal(out['position_embedding_type'], undefined, 'DeBERTa has no position_embedding_type');
    assert.equal(out['pooler_hidden_size'], 768);
    assert.deepEqual({ ...parseEncoderConfig(out, L), raw: null }, { ...c, raw: null });
  }
  assert.deepEqual(JSON.parse(configToJson(parseEncoderConfig(DEBERTA_V3_BASE, L))).architectures, ['DebertaV2Model']);
});

test('createEncoderConfig takes the switches as config.json keys', () => {
  const c = createEncoderConfig('deberta-v2', { hiddenSize: 32, numAttentionHeads: 4, numHiddenLayers: 2, intermediateSize: 64, vocabSize: 100 },
    { relative_attention: true, position_buckets: 16, pos_att_type: 'c2p|p2c', share_att_key: true });
  assert.deepEqual([c.deberta!.relativeAttention, c.deberta!.positionBuckets, c.deberta!.shareAttKey], [true, 16, true]);
  assertFormatError(() => createEncoderConfig('deberta', {}, { pos_att_type: 'p2p' }), '<new deberta config>', /"p2p"/);
});

test('parameterCount follows the switches', () => {
  const count = (extra: Record<string, unknown>) => parameterCount(parseEncoderConfig({ ...DEBERTA_V3_BASE, ...extra }, L));
  const H = 768;
  const base = count({});
  // Without shared keys each layer has pos_key_proj and pos_query_proj.
  assert.equal(count({ share_att_key: false }) - base, 12 * 2 * (H * H + H));
  // No buckets: 2 · max_relative_positions (= 512) rows instead of 2 · 256.
  assert.equal(count({ position_buckets: -1 }) - base, 2 * 256 * H);
  assert.equal(count({ position_biased_input: true, type_vocab_size: 2 }) - base, (512 + 2) * H);
  assert.equal(count({ norm_rel_ebd: 'none' }) - base, -2 * H);
  assert.equal(count({ embedding_size: 128 }) - base, 128100 * (128 - H) + 128 * H, 'E × V table and the bias-free embed_proj');
  assert.equal(count({ relative_attention: false }) - base, -2 * 256 * H);
});
