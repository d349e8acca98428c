import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bertUncasedTokenizer, robertaGpt2Tokenizer } from '../../src/text/pretrained.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { TokenizerFileError } from '../../src/text/tokenizer-spec.js';
import { tmpDir } from './helpers.js';

const bert = bertUncasedTokenizer();
const roberta = robertaGpt2Tokenizer();
const root = tmpDir('tokenizer-files');
after(() => fs.rmSync(root, { recursive: true, force: true }));

const SENTENCES = [
  'Hello, world!',
  'The unaffable lobster (Homarus gammarus) weighs 0.7 – 2.2 kg.',
  "Don't panic: it's only a test of naïve café-style encodings 😀.",
  'the [MASK] sat on the mat',
  'Mixed CASE and 12345 numbers, plus   odd   spacing\tand tabs.',
];

function sameIds(a: TextTokenizer, b: TextTokenizer): void {
  for (const s of SENTENCES) {
    assert.deepEqual(b.encode(s).ids, a.encode(s).ids, s);
    assert.deepEqual(b.encode(s, 'a second sentence').ids, a.encode(s, 'a second sentence').ids, s);
  }
  assert.deepEqual(b.specialIds, a.specialIds);
  assert.equal(b.vocabSize, a.vocabSize);
}

function sub(name: string): string {
  const d = path.join(root, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function oneLineError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.ok(!e.message.includes('\n'), `multi-line message: ${e.message}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
    return true;
  });
}

describe('WordPiece directories', () => {
  const dir = sub('bert');
  bert.save(dir);

  test('save writes fast and slow tokenizer files', () => {
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt']) {
      assert.ok(fs.existsSync(path.join(dir, f)), f);
    }
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    assert.equal(cfg.tokenizer_class, 'BertTokenizerFast');
    assert.equal(cfg.do_lower_case, true);
    assert.equal(cfg.model_max_length, 512);
    assert.equal(cfg.mask_token, '[MASK]');
    const map = JSON.parse(fs.readFileSync(path.join(dir, 'special_tokens_map.json'), 'utf8'));
    assert.deepEqual(map, { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' });
    const vocab = fs.readFileSync(path.join(dir, 'vocab.txt'), 'utf8').split('\n');
    assert.equal(vocab.length, 30522 + 1);
    assert.equal(vocab[101], '[CLS]');
    assert.equal(vocab[7592], 'hello');
    const tj = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    assert.equal(tj.model.type, 'WordPiece');
    assert.equal(tj.normalizer.type, 'BertNormalizer');
  });

  test('tokenizer.json path reloads to the same ids', () => {
    sameIds(bert, TextTokenizer.fromDir(dir));
  });

  test('vocab.txt alone gives the same ids (lower-casing by default)', () => {
    const only = sub('bert-vocab-only');
    fs.copyFileSync(path.join(dir, 'vocab.txt'), path.join(only, 'vocab.txt'));
    const t = TextTokenizer.fromDir(only);
    assert.equal(t.kind, 'wordpiece');
    sameIds(bert, t);
  });

  test('vocab.txt honours do_lower_case: false from tokenizer_config.json', () => {
    const cased = sub('bert-cased');
    fs.copyFileSync(path.join(dir, 'vocab.txt'), path.join(cased, 'vocab.txt'));
    fs.writeFileSync(path.join(cased, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false }));
    const t = TextTokenizer.fromDir(cased);
    assert.equal(t.doLowerCase, false);
    assert.deepEqual(t.encode('hello').ids, [101, 7592, 102]);
    assert.notDeepEqual(t.encode('Hello').ids, [101, 7592, 102]);
    // Accents are kept when not lower-casing (strip_accents follows do_lower_case in HF).
    assert.notDeepEqual(t.encode('héllo').ids, [101, 7592, 102]);
  });

  test('saved tokenizer.json reloads even without the config files', () => {
    const bare = sub('bert-json-only');
    fs.copyFileSync(path.join(dir, 'tokenizer.json'), path.join(bare, 'tokenizer.json'));
    sameIds(bert, TextTokenizer.fromDir(bare));
  });
});

describe('byte-level BPE directories', () => {
  const dir = sub('roberta');
  roberta.save(dir);

  test('save writes vocab.json + merges.txt and a RoBERTa config', () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    assert.equal(cfg.tokenizer_class, 'RobertaTokenizerFast');
    assert.equal(cfg.add_prefix_space, false);
    assert.equal(cfg.bos_token, '<s>');
    const vocab = JSON.parse(fs.readFileSync(path.join(dir, 'vocab.json'), 'utf8'));
    assert.equal(vocab['<s>'], 0);
    assert.equal(vocab['<pad>'], 1);
    assert.equal(vocab['<mask>'], 50261);
    assert.equal(Object.keys(vocab).length, 50262);
    const merges = fs.readFileSync(path.join(dir, 'merges.txt'), 'utf8').split('\n');
    assert.equal(merges[0], '#version: 0.2');
    assert.equal(merges[1], 'Ġ t');
  });

  test('tokenizer.json path reloads to the same ids', () => {
    sameIds(roberta, TextTokenizer.fromDir(dir));
  });

  test('vocab.json + merges.txt alone give the same ids', () => {
    const only = sub('roberta-slow-only');
    for (const f of ['vocab.json', 'merges.txt']) fs.copyFileSync(path.join(dir, f), path.join(only, f));
    const t = TextTokenizer.fromDir(only);
    assert.equal(t.kind, 'bpe');
    assert.equal(t.usesTokenTypeIds, false);
    sameIds(roberta, t);
  });
});

describe('rejection of bad directories and files', () => {
  test('missing files name the directory and what was looked for', () => {
    const empty = sub('empty');
    oneLineError(() => TextTokenizer.fromDir(empty), empty, 'tokenizer.json', 'vocab.txt', 'vocab.json + merges.txt');
    oneLineError(() => TextTokenizer.fromDir(path.join(root, 'nope')), 'no such model directory');
    const half = sub('half');
    fs.writeFileSync(path.join(half, 'vocab.json'), '{"a": 0}');
    oneLineError(() => TextTokenizer.fromDir(half), 'not merges.txt');
  });

  const badJson: [string, string, string][] = [
    ['not-json', '{"model": ', 'invalid JSON: unexpected end of text at byte 10'],
    ['array', '[1, 2, 3]', 'expected a JSON object'],
    ['no-model', '{"version": "1.0"}', 'missing "model"'],
    ['model-string', '{"model": "BPE"}', 'missing "model" object'],
    ['bad-type', '{"model": {"type": "Magic", "vocab": {}}}', 'model.type "Magic"'],
    ['bad-ids', '{"model": {"type": "WordPiece", "vocab": {"a": "zero"}}}', 'invalid id'],
    ['huge-id', '{"model": {"type": "WordPiece", "vocab": {"a": 1e12}}}', 'invalid id'],
    ['bad-merges', '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b c"]}}', 'merges[0]'],
    ['bad-added', '{"added_tokens": [{"id": -1, "content": "x"}], "model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}}', 'added_tokens[0]'],
    ['bad-normalizer', '{"normalizer": "lower", "model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}}', 'normalizer: must be an object'],
    ['unknown-component', '{"normalizer": {"type": "Frobnicate"}, "model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "[MASK]": 4}}}', 'normalizer: type "Frobnicate" is not supported'],
    ['no-specials', '{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1}}}', 'cls token "[CLS]" is not in the vocabulary'],
  ];
  for (const [name, content, fragment] of badJson) {
    test(`tokenizer.json: ${name}`, () => {
      const d = sub(`bad-${name}`);
      fs.writeFileSync(path.join(d, 'tokenizer.json'), content);
      oneLineError(() => TextTokenizer.fromDir(d), fragment);
      assert.throws(() => TextTokenizer.fromDir(d), TokenizerFileError);
    });
  }

  test('slow files: empty vocab.txt, malformed merges.txt, non-object vocab.json, bad config', () => {
    const v = sub('bad-vocab-txt');
    fs.writeFileSync(path.join(v, 'vocab.txt'), '');
    oneLineError(() => TextTokenizer.fromDir(v), path.join(v, 'vocab.txt'), 'empty');

    const m = sub('bad-merges-txt');
    fs.writeFileSync(path.join(m, 'vocab.json'), '{"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"<mask>":4,"a":5}');
    fs.writeFileSync(path.join(m, 'merges.txt'), '#version: 0.2\na b\nthree part line\n');
    oneLineError(() => TextTokenizer.fromDir(m), 'merges.txt', 'line 3');

    const j = sub('bad-vocab-json');
    fs.writeFileSync(path.join(j, 'vocab.json'), '["a", "b"]');
    fs.writeFileSync(path.join(j, 'merges.txt'), '');
    oneLineError(() => TextTokenizer.fromDir(j), 'vocab.json');

    const c = sub('bad-config');
    fs.writeFileSync(path.join(c, 'vocab.txt'), '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n');
    fs.writeFileSync(path.join(c, 'tokenizer_config.json'), '{"cls_token": 5}');
    oneLineError(() => TextTokenizer.fromDir(c), 'tokenizer_config.json', 'cls_token');
  });

  test('a small hand-written vocab.txt with its special tokens missing gets them appended', () => {
    const d = sub('tiny-vocab');
    fs.writeFileSync(path.join(d, 'vocab.txt'), 'hello\nworld\n##s\n');
    const t = TextTokenizer.fromDir(d);
    assert.equal(t.vocabSize, 8);
    assert.deepEqual(t.encode('hello worlds').ids, [t.specialIds.cls, 0, 1, 2, t.specialIds.sep]);
    assert.equal(t.encode('xyz').ids[1], t.specialIds.unk);
  });

  test('a token spelled __proto__ is an ordinary vocabulary entry through load and save', () => {
    const d = sub('proto-vocab');
    fs.writeFileSync(path.join(d, 'vocab.txt'), '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n__proto__\nconstructor\n');
    const t = TextTokenizer.fromDir(d);
    assert.equal(t.tokenToId('__proto__'), 5);
    assert.equal(t.idToToken(5), '__proto__');
    assert.deepEqual(t.encode('constructor').ids, [2, 6, 3]);
    const again = sub('proto-vocab-saved');
    t.save(again);
    const u = TextTokenizer.fromDir(again);
    assert.equal(u.tokenToId('__proto__'), 5);
    assert.equal(u.vocabSize, 7);
  });
});
