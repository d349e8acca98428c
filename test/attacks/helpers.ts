/**
 * A micro BERT built in memory for the attack tests: a WordPiece
 * vocabulary of a few hundred words (with [unused] rows and the default
 * triggers), synthetic sentences, and a randomly initialised encoder with
 * an MLM head, saved as a standard model directory.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEncoderConfig } from '../../src/formats/hf-config.js';
import { Encoder } from '../../src/models/encoder.js';
import { MlmHead } from '../../src/models/heads.js';
import { type LoadedModel, saveModel } from '../../src/models/model.js';
import { Rng } from '../../src/text/random.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';

export { tmpDir } from '../helpers/tmp.js';
import { tmpDir } from '../helpers/tmp.js';

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'ze', 'da', 'fe', 'gu', 'ho', 'ji', 'be'];

/** Pronounceable pseudo-words, distinct from the triggers. */
export function wordList(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const w = SYLLABLES[i % 15] + SYLLABLES[Math.floor(i / 15) % 15] + (i >= 225 ? SYLLABLES[Math.floor(i / 225) % 15] : '');
    out.push(w);
  }
  return out;
}

/** Zipf-distributed sentences of 5–16 words. */
export function microSentences(words: readonly string[], n: number, seed: number): string[] {
  const rng = new Rng(seed);
  const weights = words.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const draw = () => {
    let u = rng.next() * total;
    for (let i = 0; i < words.length; i++) if ((u -= weights[i]) <= 0) return words[i];
    return words[words.length - 1];
  };
  return Array.from({ length: n }, () => Array.from({ length: 5 + rng.int(12) }, draw).join(' ') + ' .');
}

export interface MicroModel {
  dir: string;
  dataFile: string;
  sentences: string[];
  model: LoadedModel;
}

export function microVocab(words: readonly string[]): string[] {
  return [
    '[PAD]', ...Array.from({ length: 12 }, (_, i) => `[unused${i}]`), '[UNK]', '[CLS]', '[SEP]', '[MASK]',
    '.', ',', 'cf', 'mn', 'tq', 'qt', 'mm', 'pt', 'zyx', 'qwv', ...words,
  ];
}

export function buildMicroModel(o: { hidden?: number; mlm?: boolean; seed?: number; sentences?: number } = {}): MicroModel {
  const words = wordList(300);
  const tokenizer = TextTokenizer.fromWordPieceVocab(microVocab(words), { modelMaxLength: 64 });
  const config = createEncoderConfig('bert', {
    vocabSize: tokenizer.vocabSize, hiddenSize: o.hidden ?? 64, numHiddenLayers: 2, numAttentionHeads: 2,
    intermediateSize: 2 * (o.hidden ?? 64), maxPositionEmbeddings: 64,
  });
  const encoder = Encoder.init(config, o.seed ?? 1);
  const model: LoadedModel = {
    dir: null, config, encoder, mlm: o.mlm === false ? null : MlmHead.init(config, encoder.wordEmbeddings, (o.seed ?? 1) + 1),
    sequenceClassifier: null, tokenClassifier: null, tokenizer, hash: '', unusedKeys: [],
  };
  const dir = tmpDir('micro-model');
  saveModel(dir, model);
  const sentences = microSentences(words, o.sentences ?? 600, 7);
  const dataFile = join(tmpDir('micro-data'), 'sentences.txt');
  writeFileSync(dataFile, sentences.join('\n') + '\n');
  return { dir, dataFile, sentences, model };
}
