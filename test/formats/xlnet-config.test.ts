/** XLNet's config.json: its own keys, what is refused, and a round trip in the form transformers' XLNetConfig reads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configToJson, createEncoderConfig, parseEncoderConfig } from '../../src/formats/hf-config.js';
import { assertFormatError } from './helpers.js';

const L = 'config.json';
const err = (json: unknown, pattern: RegExp) => assertFormatError(() => parseEncoderConfig(json, L), L, pattern);

const SMALL = {
  architectures: ['XLNetForSequenceClassification'], model_type: 'xlnet', vocab_size: 120, d_model: 32, n_layer: 2, n_head: 4, d_head: 8,
  d_inner: 64, ff_activation: 'gelu_new', dropout: 0.05, layer_norm_eps: 1e-12, initializer_range: 0.02, clamp_len: 16, attn_type: 'bi',
  bi_data: false, untie_r: true, mem_len: 256, reuse_len: 128, same_length: true, use_mems_eval: true, use_mems_train: false,
  summary_type: 'last', summary_use_proj: true, summary_activation: 'tanh', summary_last_dropout: 0.1, start_n_top: 5, end_n_top: 5,
  pad_token_id: 5, bos_token_id: 1, eos_token_id: 2, id2label: { 0: 'neg', 1: 'pos' },
};

test('XLNet: the keys map onto the encoder config, absent ones take XLNetConfig\'s defaults', () => {
  const c = parseEncoderConfig(SMALL, L);
  assert.equal(c.modelType, 'xlnet');
  assert.equal(c.sourceModelType, 'xlnet');
  assert.deepEqual(
    [c.vocabSize, c.hiddenSize, c.embeddingSize, c.numHiddenLayers, c.numAttentionHeads, c.intermediateSize, c.hiddenAct],
    [120, 32, 32, 2, 4, 64, 'gelu_new'],
  );
  assert.equal(c.hiddenDropoutProb, 0.05);
  assert.equal(c.attentionProbsDropoutProb, 0.05, 'XLNet drops attention probabilities with the same "dropout"');
  assert.deepEqual(c.xlnet, {
    clampLen: 16, summaryType: 'last', summaryUseProj: true, summaryActivation: 'tanh', summaryFirstDropout: 0, summaryLastDropout: 0.1,
  });
  const d = parseEncoderConfig({ model_type: 'xlnet' }, L);
  assert.deepEqual([d.vocabSize, d.hiddenSize, d.numHiddenLayers, d.numAttentionHeads, d.intermediateSize, d.padTokenId, d.hiddenAct, d.hiddenDropoutProb],
    [32000, 1024, 24, 16, 4096, 5, 'gelu', 0.1], 'xlnet-large-cased shaped, as XLNetConfig()');
  assert.equal(d.xlnet!.clampLen, -1);
  // Old configs name the vocabulary n_token (XLNetConfig's attribute_map).
  assert.equal(parseEncoderConfig({ model_type: 'xlnet', n_token: 77, d_model: 16, n_head: 2 }, L).vocabSize, 77);
  assert.equal(parseEncoderConfig({ ...SMALL, summary_activation: null }, L).xlnet!.summaryActivation, null);
  assert.equal(parseEncoderConfig({ ...SMALL, summary_type: 'first' }, L).xlnet!.summaryType, 'first');
});

test('XLNet: refuses what transformers would compute differently, one line naming the key', () => {
  err({ ...SMALL, attn_type: 'uni' }, /"attn_type" "uni" \(causal attention.*not supported.*attn_type "bi"/);
  err({ ...SMALL, attn_type: 'both' }, /"attn_type" is "both"; transformers knows "bi" and "uni"/);
  err({ ...SMALL, bi_data: true }, /"bi_data": true is not supported/);
  err({ ...SMALL, d_head: 16 }, /"d_head" is 16; XLNetConfig requires d_model \/ n_head = 8/);
  err({ ...SMALL, d_model: 30 }, /"d_model" 30 is not divisible by "n_head" 4/);
  err({ ...SMALL, ff_activation: 'relu' }, /unsupported ff_activation "relu"; supported: gelu, gelu_new/);
  err({ ...SMALL, summary_type: 'mean' }, /"summary_type" is "mean"; supported: "last".*"first"/);
  err({ ...SMALL, summary_proj_to_labels: true }, /"summary_proj_to_labels": true is not supported/);
  err({ ...SMALL, summary_activation: 'relu' }, /unsupported summary_activation "relu"/);
  err({ ...SMALL, summary_last_dropout: 1 }, /"summary_last_dropout" is 1; expected a probability/);
  err({ ...SMALL, tie_word_embeddings: false }, /"tie_word_embeddings": false is not supported/);
  err({ ...SMALL, max_position_embeddings: 512 }, /"max_position_embeddings" is not an XLNet config key/);
  err({ ...SMALL, clamp_len: 1.5 }, /"clamp_len" is 1\.5; expected an integer/);
  err({ ...SMALL, mem_len: -1 }, /"mem_len" is -1; expected null or a non-negative integer/);
  err({ ...SMALL, n_layer: 0 }, /"n_layer" is 0; expected an integer from 1/);
  err({ ...SMALL, dropout: 1 }, /"dropout" is 1; expected a probability/);
  err({ ...SMALL, pad_token_id: 120 }, /"pad_token_id" is 120; expected an integer from 0 to 119/);
  err({ ...SMALL, n_token: 100 }, /"n_token" 100 and "vocab_size" 120 disagree/);
  err({ ...SMALL, hidden_size: 64 }, /"hidden_size" 64 disagrees with "d_model" 32/);
  err({ ...SMALL, is_decoder: true }, /"is_decoder": true is not supported/);
});

test('XLNet: configToJson writes XLNetConfig\'s keys (none of BERT\'s), keeps the rest, and round-trips', () => {
  const c = parseEncoderConfig(SMALL, L);
  const out = JSON.parse(configToJson(c)) as Record<string, unknown>;
  for (const [k, v] of Object.entries(SMALL)) assert.deepEqual(out[k], v, `xlnet.${k}`);
  for (const k of ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'hidden_act', 'max_position_embeddings',
    'type_vocab_size', 'position_embedding_type', 'hidden_dropout_prob', 'embedding_size']) {
    assert.equal(out[k], undefined, `no "${k}": transformers' XLNetConfig would read it as something else or refuse it`);
  }
  const again = parseEncoderConfig(out, L);
  assert.deepEqual({ ...again, raw: null }, { ...c, raw: null });
  // A new one, from sizes.
  const n = createEncoderConfig('xlnet', { hiddenSize: 48, numAttentionHeads: 6, numHiddenLayers: 3, intermediateSize: 96, vocabSize: 200 });
  const j = JSON.parse(configToJson(n)) as Record<string, unknown>;
  assert.deepEqual([j.d_model, j.n_head, j.d_head, j.n_layer, j.d_inner, j.vocab_size, j.ff_activation, j.attn_type, j.pad_token_id],
    [48, 6, 8, 3, 96, 200, 'gelu', 'bi', 5]);
  assert.deepEqual(parseEncoderConfig(j, L).xlnet, n.xlnet);
});
