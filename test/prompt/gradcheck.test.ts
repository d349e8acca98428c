/**
 * Central finite differences (float64, js kernels) of every trainable path
 * the prompt methods add: the P-tuning rows spliced into the embeddings and
 * read through the MLM head at the mask, PEFT's MLP prompt encoder, the
 * P-tuning v2 prefix (with its dropout and the backbone's in training), the
 * prefix projection, the first-token head, and the NER head.
 */
import { test } from 'node:test';
import { padRows, type PromptModel } from '../../src/prompt/model.js';
import { PrefixTuningModel } from '../../src/prompt/ptuning-v2.js';
import { PTuningModel } from '../../src/prompt/ptuning.js';
import { relu } from '../../src/engine/index.js';
import { gradcheck, randTensor } from '../helpers/gradcheck.js';
import { promptModel, tensorsToF64, toF64 } from './helpers.js';

function tinyBackbone() {
  return toF64(promptModel({ hidden: 8, heads: 2, layers: 2, maxPos: 48, seed: 3 }));
}

function check(name: string, model: PromptModel, examples: Parameters<PromptModel['encode']>[0][], dropoutSeed?: number): void {
  const params = [...model.trainable().values()];
  tensorsToF64(params);
  for (const p of params) p.requiresGrad = true;
  const batch = padRows(examples.map((e) => model.encode(e)), model.backbone.tokenizer!.specialIds.pad);
  gradcheck(name, params, () => model.forward(batch, { dropoutSeed }).logits, { rtol: 1e-5, atol: 1e-9 });
}

const texts = [{ text: 'a great film', textB: 'it was good' }, { text: 'the worst movie of the year' }];

test('relu: gradient where the input is positive', () => {
  gradcheck('relu', [randTensor([4, 5], 31)], (x) => relu(x));
});

test('P-tuning: prompt rows → splice → backbone → MLM head at the mask, on the label words', () => {
  check('ptuning', PTuningModel.create(tinyBackbone(), { task: 'sst2', rowsPerPlaceholder: 2, maxLen: 16, seed: 1 }), texts);
  check('ptuning-pair', PTuningModel.create(tinyBackbone(), { task: 'rte', maxLen: 20, seed: 2 }), texts);
});

test("P-tuning with PEFT's MLP prompt encoder (every layer of it)", () => {
  check('ptuning-mlp', PTuningModel.create(tinyBackbone(), { task: 'sms-spam', reparamHidden: 4, maxLen: 16, seed: 3 }), texts);
});

test('P-tuning v2: prefix keys/values in every layer and the first-token head, with prefix and backbone dropout', () => {
  const m = PrefixTuningModel.create(tinyBackbone(), { task: 'ag-news', prefixLen: 2, maxLen: 16, seed: 4 });
  check('ptuning-v2', m, texts);
  check('ptuning-v2-dropout', m, texts, 77);
});

test('P-tuning v2 through the prefix projection', () => {
  check('ptuning-v2-projection', PrefixTuningModel.create(tinyBackbone(), { task: 'sst2', prefixLen: 2, reparamHidden: 3, maxLen: 16, seed: 5 }), texts);
});

test('P-tuning v2 token classification (every token through the head)', () => {
  const m = PrefixTuningModel.create(tinyBackbone(), { task: 'conll04', prefixLen: 1, maxLen: 16, seed: 6 });
  check('ptuning-v2-ner', m, [{ tokens: ['John', 'lives', 'in', 'Boston'] }, { tokens: ['the', 'film'] }], 5);
});
