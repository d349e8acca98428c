import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  parseEncoderConfig, parseEncoderConfigText, loadEncoderConfig, configToJson, createEncoderConfig, saveEncoderConfig, parameterCount, usablePositions,
} from '../../src/formats/hf-config.js';
import { assertFormatError, tmpDir } from './helpers.js';

const L = 'config.json';
const err = (json: unknown, pattern: RegExp) => assertFormatError(() => parseEncoderConfig(json, L), L, pattern);

// As published on the Hugging Face hub.
const BERT_BASE = {
  architectures: ['BertForMaskedLM'], attention_probs_dropout_prob: 0.1, gradient_checkpointing: false,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, hidden_size: 768, initializer_range: 0.02, intermediate_size: 3072,
  layer_norm_eps: 1e-12, max_position_embeddings: 512, model_type: 'bert', num_attention_heads: 12,
  num_hidden_layers: 12, pad_token_id: 0, position_embedding_type: 'absolute', transformers_version: '4.6.0.dev0',
  type_vocab_size: 2, use_cache: true, vocab_size: 30522,
};
const ROBERTA_BASE = {
  architectures: ['RobertaForMaskedLM'], attention_probs_dropout_prob: 0.1, bos_token_id: 0, eos_token_id: 2,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, hidden_size: 768, initializer_range: 0.02, intermediate_size: 3072,
  layer_norm_eps: 1e-5, max_position_embeddings: 514, model_type: 'roberta', num_attention_heads: 12,
  num_hidden_layers: 12, pad_token_id: 1, type_vocab_size: 1, vocab_size: 50265,
};
const ERNIE_BASE = {
  attention_probs_dropout_prob: 0.1, hidden_act: 'gelu', hidden_dropout_prob: 0.1, hidden_size: 768,
  initializer_range: 0.02, intermediate_size: 3072, max_position_embeddings: 2048, num_attention_heads: 12,
  num_hidden_layers: 12, task_type_vocab_size: 3, type_vocab_size: 4, use_task_id: false, vocab_size: 40000,
  layer_norm_eps: 1e-5, model_type: 'ernie', pad_token_id: 0,
};

// albert-base-v2 and google/electra-small-discriminator as published.
const ALBERT_BASE = {
  architectures: ['AlbertForMaskedLM'], attention_probs_dropout_prob: 0, bos_token_id: 2, classifier_dropout_prob: 0.1,
  down_scale_factor: 1, embedding_size: 128, eos_token_id: 3, gap_size: 0, hidden_act: 'gelu_new', hidden_dropout_prob: 0,
  hidden_size: 768, initializer_range: 0.02, inner_group_num: 1, intermediate_size: 3072, layer_norm_eps: 1e-12,
  max_position_embeddings: 512, model_type: 'albert', net_structure_type: 0, num_attention_heads: 12, num_hidden_groups: 1,
  num_hidden_layers: 12, num_memory_blocks: 0, pad_token_id: 0, type_vocab_size: 2, vocab_size: 30000,
};
const ELECTRA_SMALL = {
  architectures: ['ElectraForPreTraining'], attention_probs_dropout_prob: 0.1, embedding_size: 128, hidden_act: 'gelu',
  hidden_dropout_prob: 0.1, hidden_size: 256, initializer_range: 0.02, intermediate_size: 1024, layer_norm_eps: 1e-12,
  max_position_embeddings: 512, model_type: 'electra', num_attention_heads: 4, num_hidden_layers: 12, pad_token_id: 0,
  type_vocab_size: 2, vocab_size: 30522,
};

test('parses albert-base-v2 and electra-small-discriminator', () => {
  const a = parseEncoderConfig(ALBERT_BASE, L);
  assert.deepEqual([a.modelType, a.embeddingSize, a.hiddenSize, a.numHiddenGroups, a.innerGroupNum, a.hiddenAct], ['albert', 128, 768, 1, 1, 'gelu_new']);
  assert.equal(parameterCount(a), 11683584, 'AlbertModel parameter count (one shared layer, E→H mapping, pooler)');
  const e = parseEncoderConfig(ELECTRA_SMALL, L);
  assert.deepEqual([e.modelType, e.embeddingSize, e.hiddenSize, e.hiddenAct], ['electra', 128, 256, 'gelu']);
  assert.equal(parameterCount(e), 13483008, 'ElectraModel parameter count (embeddings_project, no pooler)');
  // Absent keys: each family's own defaults (ALBERT: gelu_new, no dropout; ELECTRA: E = 128).
  const d = parseEncoderConfig({ model_type: 'albert' }, L);
  assert.deepEqual([d.vocabSize, d.embeddingSize, d.hiddenSize, d.hiddenAct, d.hiddenDropoutProb], [30000, 128, 4096, 'gelu_new', 0]);
  assert.equal(parseEncoderConfig({ model_type: 'electra' }, L).embeddingSize, 128);
  assert.equal(parseEncoderConfig({ model_type: 'bert' }, L).embeddingSize, 768, 'BERT: E = H');
  assert.equal(parseEncoderConfig({ ...BERT_BASE, hidden_act: 'gelu_pytorch_tanh' }, L).hiddenAct, 'gelu_new');
});

test('parses microsoft/deberta-v3-base: parameter count of DebertaV2Model', () => {
  const c = parseEncoderConfig({
    model_type: 'deberta-v2', attention_probs_dropout_prob: 0.1, hidden_act: 'gelu', hidden_dropout_prob: 0.1, hidden_size: 768,
    initializer_range: 0.02, intermediate_size: 3072, max_position_embeddings: 512, relative_attention: true, position_buckets: 256,
    norm_rel_ebd: 'layer_norm', share_att_key: true, pos_att_type: 'p2c|c2p', layer_norm_eps: 1e-7, max_relative_positions: -1,
    position_biased_input: false, num_attention_heads: 12, num_hidden_layers: 12, type_vocab_size: 0, vocab_size: 128100,
  }, L);
  assert.equal(c.modelType, 'deberta-v2');
  // 128100·768 words + 512·768 relative rows + 2 LayerNorms + 12 layers of 7,087,872; the same count
  // generate_deberta.py sums from its torch reference's parameter shapes.
  assert.equal(parameterCount(c), 183831552);
});

test('parses xlnet-base-cased: XLNet\'s own keys, parameter count of XLNetModel', () => {
  // config.json of xlnet-base-cased as published.
  const c = parseEncoderConfig({
    architectures: ['XLNetLMHeadModel'], attn_type: 'bi', bi_data: false, bos_token_id: 1, clamp_len: -1, d_head: 64, d_inner: 3072,
    d_model: 768, dropout: 0.1, end_n_top: 5, eos_token_id: 2, ff_activation: 'gelu', initializer_range: 0.02, layer_norm_eps: 1e-12,
    mem_len: null, model_type: 'xlnet', n_head: 12, n_layer: 12, pad_token_id: 5, reuse_len: null, same_length: false, start_n_top: 5,
    summary_activation: 'tanh', summary_last_dropout: 0.1, summary_type: 'last', summary_use_proj: true,
    task_specific_params: { 'text-generation': { do_sample: true, max_length: 250 } }, untie_r: true, vocab_size: 32000,
  }, L);
  assert.equal(c.modelType, 'xlnet');
  assert.deepEqual([c.hiddenSize, c.embeddingSize, c.numHiddenLayers, c.numAttentionHeads, c.intermediateSize, c.padTokenId, c.typeVocabSize],
    [768, 768, 12, 12, 3072, 5, 3]);
  assert.equal(usablePositions(c), 512, 'no position table: our bound (the pretraining segment length)');
  // 32000·768 word_embedding + 768 mask_emb + 12 layers of 5·768² (q, k, v, o, r) + 3·768 (r_w/r_r/r_s biases)
  // + 2·768 (seg_embed) + 2·768 + 2·768 (two LayerNorms) + 768·3072 + 3072 + 3072·768 + 768 (the feed-forward),
  // the 116,718,336 transformers reports for XLNetModel (≈ 117M).
  assert.equal(parameterCount(c), 32000 * 768 + 768 + 12 * (5 * 768 * 768 + 3 * 768 + 2 * 768 + 4 * 768 + 2 * 768 * 3072 + 3072 + 768));
  assert.equal(parameterCount(c), 116718336);
  // summary_activation: absent takes XLNetConfig's default tanh; an explicit null is SequenceSummary's identity.
  assert.equal(parseEncoderConfig({ model_type: 'xlnet' }, L).xlnet?.summaryActivation, 'tanh');
  assert.equal(parseEncoderConfig({ model_type: 'xlnet', summary_activation: null }, L).xlnet?.summaryActivation, null);
});

test('parses bert-base-uncased', () => {
  const c = parseEncoderConfig(BERT_BASE, L);
  assert.equal(c.modelType, 'bert');
  assert.equal(c.sourceModelType, 'bert');
  assert.equal(c.vocabSize, 30522);
  assert.equal(c.hiddenSize, 768);
  assert.equal(c.numHiddenLayers, 12);
  assert.equal(c.numAttentionHeads, 12);
  assert.equal(c.intermediateSize, 3072);
  assert.equal(c.hiddenAct, 'gelu');
  assert.equal(c.maxPositionEmbeddings, 512);
  assert.equal(c.typeVocabSize, 2);
  assert.equal(c.layerNormEps, 1e-12);
  assert.equal(c.padTokenId, 0);
  assert.equal(c.hiddenDropoutProb, 0.1);
  assert.equal(c.attentionProbsDropoutProb, 0.1);
  assert.equal(c.initializerRange, 0.02);
  assert.equal(c.raw, BERT_BASE);
  assert.equal(parameterCount(c), 109482240, 'BertModel parameter count');
});

test('parses roberta-base and BERT-shaped ERNIE', () => {
  const r = parseEncoderConfig(ROBERTA_BASE, L);
  assert.equal(r.modelType, 'roberta');
  assert.equal(r.padTokenId, 1);
  assert.equal(r.layerNormEps, 1e-5);
  assert.equal(r.typeVocabSize, 1);
  const e = parseEncoderConfig(ERNIE_BASE, L);
  assert.equal(e.modelType, 'bert');
  assert.equal(e.sourceModelType, 'ernie');
  assert.equal(e.typeVocabSize, 4);
  assert.equal(parseEncoderConfig({ ...ERNIE_BASE, use_task_id: undefined }, L).modelType, 'bert');
});

test('absent keys take the transformers defaults of the model type', () => {
  const b = parseEncoderConfig({ model_type: 'bert' }, L);
  assert.deepEqual([b.vocabSize, b.hiddenSize, b.numHiddenLayers, b.padTokenId, b.layerNormEps], [30522, 768, 12, 0, 1e-12]);
  const r = parseEncoderConfig({ model_type: 'roberta' }, L);
  assert.deepEqual([r.vocabSize, r.padTokenId], [50265, 1]);
  assert.equal(parseEncoderConfig({ ...BERT_BASE, pad_token_id: null }, L).padTokenId, 0);
});

test('rejects unsupported models and architectures, naming them', () => {
  err({ ...BERT_BASE, model_type: 'gpt2' }, /unsupported model_type "gpt2"; supported: bert, roberta, ernie, electra, albert/);
  err({ ...BERT_BASE, model_type: undefined }, /missing "model_type"/);
  err({ ...BERT_BASE, model_type: 3 }, /unsupported model_type 3/);
  err({ ...BERT_BASE, hidden_act: 'relu' }, /unsupported hidden_act "relu"; supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast/);
  err({ ...BERT_BASE, hidden_act: 'toString' }, /unsupported hidden_act "toString"/);
  err({ ...ALBERT_BASE, num_hidden_groups: 13 }, /"num_hidden_groups" is 13; expected an integer from 1 to 12/);
  err({ ...ALBERT_BASE, inner_group_num: 0 }, /"inner_group_num" is 0/);
  err({ ...BERT_BASE, hidden_act: null }, /unsupported hidden_act null/);
  err({ ...ERNIE_BASE, use_task_id: true }, /ERNIE with task-type embeddings \(use_task_id true\) is not supported/);
  err({ ...BERT_BASE, position_embedding_type: 'relative_key' }, /unsupported position_embedding_type "relative_key"/);
  err({ ...BERT_BASE, is_decoder: true }, /"is_decoder": true is not supported/);
  err({ ...ROBERTA_BASE, pad_token_id: null }, /pad_token_id" is null/);
});

test('rejects bad values with the key and the allowed range', () => {
  err({ ...BERT_BASE, hidden_size: 770 }, /"hidden_size" 770 is not divisible by "num_attention_heads" 12/);
  err({ ...BERT_BASE, num_hidden_layers: 0 }, /"num_hidden_layers" is 0; expected an integer from 1 to 512/);
  err({ ...BERT_BASE, vocab_size: -5 }, /"vocab_size" is -5/);
  err({ ...BERT_BASE, vocab_size: 1.5 }, /"vocab_size" is 1.5/);
  err({ ...BERT_BASE, vocab_size: '30522' }, /"vocab_size" is a string \(5 characters\), expected a number/);
  err({ ...BERT_BASE, vocab_size: 1e12 }, /"vocab_size" is 1000000000000; expected an integer from 1 to 4,000,000/);
  err({ ...BERT_BASE, intermediate_size: 1e9 }, /"intermediate_size"/);
  err({ ...BERT_BASE, hidden_dropout_prob: 1.5 }, /"hidden_dropout_prob" is 1.5; expected a probability/);
  err({ ...BERT_BASE, layer_norm_eps: 0 }, /"layer_norm_eps" is 0/);
  err({ ...BERT_BASE, initializer_range: -1 }, /"initializer_range" is -1/);
  err({ ...BERT_BASE, pad_token_id: 30522 }, /"pad_token_id" is 30522; expected an integer from 0 to 30,521/);
  err({ ...ROBERTA_BASE, max_position_embeddings: 2 }, /leaves no positions after RoBERTa's offset/);
  // Each field within its bound, the whole far too big.
  err({ ...BERT_BASE, hidden_size: 16384, num_attention_heads: 16, num_hidden_layers: 512, intermediate_size: 65536 },
    /config implies [\d,]+ parameters, over the limit of 2,147,483,648/);
  err([1, 2], /config is not a JSON object/);
  err(null, /config is not a JSON object/);
});

test('parses text: invalid JSON and duplicate keys are errors', () => {
  assert.equal(parseEncoderConfigText(JSON.stringify(BERT_BASE), L).hiddenSize, 768);
  assert.equal(parseEncoderConfigText(`\ufeff${JSON.stringify(BERT_BASE)}`, L).hiddenSize, 768);
  assertFormatError(() => parseEncoderConfigText('{"model_type": "bert",', L), L, /invalid JSON/);
  assertFormatError(() => parseEncoderConfigText('{"model_type": "bert", "hidden_size": 768, "hidden_size": 64}', L), L, /duplicate key "hidden_size"/);
});

test('configToJson round-trips and keeps keys it does not interpret', () => {
  for (const src of [BERT_BASE, ROBERTA_BASE, ERNIE_BASE, ALBERT_BASE, ELECTRA_SMALL]) {
    const c = parseEncoderConfig(src, L);
    const out = JSON.parse(configToJson(c)) as Record<string, unknown>;
    for (const [k, v] of Object.entries(src)) assert.deepEqual(out[k], v, `${src.model_type}.${k}`);
    const again = parseEncoderConfig(out, L);
    assert.deepEqual({ ...again, raw: null }, { ...c, raw: null });
  }
  const c = parseEncoderConfig(JSON.parse('{"model_type":"bert","__proto__":{"x":1},"id2label":{"0":"a"}}'), L);
  const text = configToJson(c);
  assert.match(text, /"__proto__": \{/);
  assert.deepEqual((JSON.parse(text) as Record<string, unknown>)['id2label'], { 0: 'a' });
});

test('createEncoderConfig makes a complete, transformers-style config', () => {
  const c = createEncoderConfig('roberta', { hiddenSize: 64, numAttentionHeads: 4, numHiddenLayers: 2, intermediateSize: 128, vocabSize: 100, maxPositionEmbeddings: 66 });
  assert.equal(c.modelType, 'roberta');
  const out = JSON.parse(configToJson(c)) as Record<string, unknown>;
  assert.deepEqual(out['architectures'], ['RobertaModel']);
  assert.equal(Object.keys(out)[0], 'architectures');
  for (const k of ['model_type', 'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
    'hidden_act', 'hidden_dropout_prob', 'attention_probs_dropout_prob', 'max_position_embeddings', 'type_vocab_size',
    'initializer_range', 'layer_norm_eps', 'pad_token_id', 'bos_token_id', 'eos_token_id', 'position_embedding_type']) {
    assert.ok(k in out, k);
  }
  assert.equal(out['hidden_size'], 64);
  assertFormatError(() => createEncoderConfig('bert', { hiddenSize: 10, numAttentionHeads: 3 }), '<new bert config>', /not divisible/);
  assertFormatError(() => configToJson({ ...c, hiddenSize: -1 }), '<config to save>', /"hidden_size" is -1/);
});

test('load/save through a model directory', () => {
  const dir = tmpDir();
  saveEncoderConfig(dir, parseEncoderConfig(BERT_BASE, L));
  assert.equal(loadEncoderConfig(dir).hiddenSize, 768);
  // The path of config.json itself is not a model directory (`scan <file>` used to say "invalid JSON").
  const file = path.join(dir, 'config.json');
  assertFormatError(() => loadEncoderConfig(file), file, /^[^:]+: not a model directory \(it is a file\)$/);
  const missing = path.join(dir, 'nope');
  assertFormatError(() => loadEncoderConfig(missing), missing, /no such model directory$/);
  const empty = tmpDir();
  assertFormatError(() => loadEncoderConfig(empty), empty, /not a model directory \(no config\.json\)$/);
  fs.writeFileSync(path.join(empty, 'config.json'), ' '.repeat(2 << 20));
  assertFormatError(() => loadEncoderConfig(empty), path.join(empty, 'config.json'), /over the 1,048,576 bytes limit/);
});

test('usablePositions: BERT uses every position row, RoBERTa starts after padding_idx', () => {
  assert.equal(usablePositions({ maxPositionEmbeddings: 512, modelType: 'bert', padTokenId: 0 }), 512);
  assert.equal(usablePositions({ maxPositionEmbeddings: 514, modelType: 'roberta', padTokenId: 1 }), 512);
});
