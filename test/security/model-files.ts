/**
 * Small, valid model directories for the hardening tests and the fuzzer: a
 * 1-layer BERT or RoBERTa with hidden size 8, its weights as safetensors, a
 * torch zip or a sharded safetensors checkpoint, and its tokenizer as
 * tokenizer.json, vocab.txt or vocab.json + merges.txt.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createEncoderConfig, saveEncoderConfig, type EncoderConfig } from '../../src/formats/hf-config.js';
import { saveSafetensors, serializeSafetensors } from '../../src/formats/safetensors.js';
import type { StateDict } from '../../src/formats/state-dict.js';
import { Encoder } from '../../src/models/encoder.js';
import { MlmHead } from '../../src/models/heads.js';
import { toStateDict, type LoadedModel } from '../../src/models/model.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { torchZip } from '../formats/helpers.js';

export { tmpDir } from '../helpers/tmp.js';

export type WeightsLayout = 'safetensors' | 'bin' | 'sharded';
export type TokenizerLayout = 'tokenizer.json' | 'vocab.txt' | 'bpe';

export const WORDS = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'a', 'b', 'c', '##s', '##ed', '.', ','];
export const BERT_VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS];

export interface TinyModel {
  dir: string;
  config: EncoderConfig;
  stateDict: StateDict;
}

export function tinyConfig(modelType: 'bert' | 'roberta', vocabSize: number): EncoderConfig {
  return createEncoderConfig(modelType, {
    vocabSize, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 16,
    maxPositionEmbeddings: 40, typeVocabSize: 2, padTokenId: modelType === 'roberta' ? 1 : 0,
  });
}

function tinyTokenizer(modelType: 'bert' | 'roberta'): TextTokenizer {
  if (modelType === 'bert') return TextTokenizer.fromWordPieceVocab(BERT_VOCAB, { modelMaxLength: 32 });
  const vocab: Record<string, number> = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3, '<mask>': 4 };
  const letters = 'abcdefghijklmnopqrstuvwxyz.,Ġ';
  for (const ch of letters) vocab[ch] = Object.keys(vocab).length;
  vocab['Ġt'] = Object.keys(vocab).length;
  vocab['Ġth'] = Object.keys(vocab).length;
  return TextTokenizer.fromByteLevelBpe(vocab, ['Ġ t', 'Ġt h'], { modelMaxLength: 32 });
}

/**
 * Write a complete model directory into `dir`. The model is the same for a
 * given type whatever the layout, so layouts can be compared.
 */
export function writeTinyModel(dir: string, o: { modelType?: 'bert' | 'roberta'; weights?: WeightsLayout; tokenizer?: TokenizerLayout } = {}): TinyModel {
  const modelType = o.modelType ?? 'bert';
  const tok = tinyTokenizer(modelType);
  const config = tinyConfig(modelType, tok.vocabSize);
  const encoder = Encoder.init(config, 7);
  const mlm = MlmHead.init(config, encoder.wordEmbeddings, 8);
  const model: LoadedModel = { dir: null, config, encoder, mlm, sequenceClassifier: null, tokenClassifier: null, tokenizer: tok, hash: '', unusedKeys: [] };
  const sd = toStateDict(model);
  fs.mkdirSync(dir, { recursive: true });
  saveEncoderConfig(dir, { ...config, raw: { ...config.raw, architectures: [modelType === 'bert' ? 'BertForMaskedLM' : 'RobertaForMaskedLM'] } });
  writeWeights(dir, sd, o.weights ?? 'safetensors');
  tok.save(dir);
  const layout = o.tokenizer ?? (modelType === 'bert' ? 'vocab.txt' : 'bpe');
  // save() writes every form; keep only the one asked for.
  const keep: Record<TokenizerLayout, string[]> = { 'tokenizer.json': ['tokenizer.json'], 'vocab.txt': ['vocab.txt'], bpe: ['vocab.json', 'merges.txt'] };
  for (const f of ['tokenizer.json', 'vocab.txt', 'vocab.json', 'merges.txt']) {
    if (!keep[layout].includes(f)) fs.rmSync(path.join(dir, f), { force: true });
  }
  return { dir, config, stateDict: sd };
}

export function writeWeights(dir: string, sd: StateDict, layout: WeightsLayout): void {
  for (const f of ['model.safetensors', 'pytorch_model.bin', 'model.safetensors.index.json']) fs.rmSync(path.join(dir, f), { force: true });
  if (layout === 'safetensors') {
    saveSafetensors(path.join(dir, 'model.safetensors'), sd);
  } else if (layout === 'bin') {
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), torchZipOf(sd));
  } else {
    const names = [...sd.keys()];
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((part, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      saveSafetensors(path.join(dir, file), new Map(part.map((n) => [n, sd.get(n)!])));
      for (const n of part) weightMap[n] = file;
    });
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  }
}

/** A torch.save-style zip of a float32 state dict, one storage per tensor. */
export function torchZipOf(sd: StateDict): Buffer {
  const tensors: Parameters<typeof torchZip>[0] = [];
  const storages: Record<string, Uint8Array> = {};
  let k = 0;
  for (const [name, t] of sd) {
    const key = String(k++);
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    tensors.push({ name, storageClass: 'FloatStorage', key, numel: data.length, size: t.shape });
    storages[key] = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  }
  return torchZip(tensors, storages);
}

/** safetensors bytes of `sd` (for tests that edit a header or body). */
export function safetensorsBytes(sd: StateDict): Buffer {
  return serializeSafetensors(sd);
}
