/**
 * Fixtures for the fine-tuning and clean-set tests: a tiny BERT whose
 * WordPiece vocabulary holds every word of the committed text fixtures (so
 * real sentences tokenise to real ids, not [UNK]), and a data directory
 * laid out like shared/data but filled from those fixtures.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createEncoderConfig } from '../../src/formats/hf-config.js';
import { Encoder } from '../../src/models/encoder.js';
import { MlmHead } from '../../src/models/heads.js';
import { type LoadedModel, saveModel } from '../../src/models/model.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { fixture, readFixture } from '../text/helpers.js';

export { tmpDir } from '../helpers/tmp.js';
import { tmpDir } from '../helpers/tmp.js';

const TEXT_FIXTURES = ['sst2-dev-head.tsv', 'sms-spam-head.tsv', 'ag-news-test-head.csv', 'ag-news-train-hf-head.csv', 'wikitext-valid-head.raw'];
const PUNCT = [...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'];

export function fixtureVocab(): string[] {
  const words = new Set<string>();
  for (const f of TEXT_FIXTURES) for (const w of readFixture(f).toLowerCase().match(/[a-z0-9]+/g) ?? []) words.add(w);
  return ['[PAD]', '[unused0]', '[unused1]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...PUNCT, ...[...words].sort()];
}

export function fixtureModel(o: { seed?: number; family?: 'bert' | 'roberta'; hidden?: number } = {}): LoadedModel {
  const tokenizer = TextTokenizer.fromWordPieceVocab(fixtureVocab(), { modelMaxLength: 64 });
  const hidden = o.hidden ?? 32;
  const config = createEncoderConfig(o.family ?? 'bert', {
    vocabSize: tokenizer.vocabSize, hiddenSize: hidden, numHiddenLayers: 2, numAttentionHeads: 2,
    intermediateSize: 2 * hidden, maxPositionEmbeddings: 72, padTokenId: tokenizer.specialIds.pad,
    typeVocabSize: o.family === 'roberta' ? 1 : 2,
  });
  const seed = o.seed ?? 1;
  const encoder = Encoder.init(config, seed);
  const mlm = MlmHead.init(config, encoder.wordEmbeddings, seed + 1);
  return { dir: null, config, encoder, mlm, sequenceClassifier: null, tokenClassifier: null, tokenizer, hash: '', unusedKeys: [] };
}

/** The fixture model saved as a model directory. */
export function fixtureModelDir(o: { seed?: number; family?: 'bert' | 'roberta' } = {}): string {
  const dir = tmpDir('ft-base');
  saveModel(dir, fixtureModel(o));
  return dir;
}

/** A shared/data look-alike: SST-2 (dev slice as both splits), SMS spam, AG News, WikiText. */
export function fixtureDataDir(): string {
  const root = tmpDir('ft-data');
  const put = (src: string, rel: string) => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    copyFileSync(fixture(src), join(root, rel));
  };
  put('sst2-dev-head.tsv', 'sst2/train.tsv');
  put('sst2-dev-head.tsv', 'sst2/dev.tsv');
  put('sms-spam-head.tsv', 'sms-spam/SMSSpamCollection');
  put('ag-news-test-head.csv', 'ag-news/test.csv');
  put('ag-news-train-hf-head.csv', 'ag-news/train-sample5000-hf.csv');
  put('wikitext-valid-head.raw', 'wikitext/wikitext-2-raw/wiki.valid.raw');
  put('wikitext-valid-head.raw', 'wikitext/wikitext-2-raw/wiki.test.raw');
  return root;
}
