import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { PieceType, SENTENCEPIECE_LIMITS, parseSentencePieceModel } from '../../src/text/sentencepiece-proto.js';
import { sentencePieceTokenizerJson } from '../../src/text/sentencepiece.js';
import { fixture, tmpDir } from './helpers.js';
import { floatField, intField, lenField, piece, tag, utf8, varint } from '../helpers/spiece.js';

// spiece.model and golden.json come from make_fixtures.py (see README.md there).
const SPIECE = fixture('spiece/spiece.model');
const MODEL_BYTES = new Uint8Array(fs.readFileSync(SPIECE));
interface GoldenCase { text: string; ids: number[]; pieces: string[] }
const GOLDEN = JSON.parse(fs.readFileSync(fixture('spiece/golden.json'), 'utf8')) as { vocab_size: number; unk_id: number; cases: GoldenCase[] };
const ALBERT_IDS = { cls: 2, sep: 3, pad: 0, mask: 4, unk: 1 };

const root = tmpDir('sentencepiece');
let dirs = 0;
/** A fresh model directory holding `files` (name -> bytes or JSON value). */
function modelDir(files: Record<string, Uint8Array | object>): string {
  const d = path.join(root, `m${dirs++}`);
  fs.mkdirSync(d);
  for (const [name, v] of Object.entries(files)) fs.writeFileSync(path.join(d, name), v instanceof Uint8Array ? v : JSON.stringify(v));
  return d;
}

function oneLineError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error, String(e));
    assert.ok(!e.message.includes('\n'), `multi-line message: ${e.message}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
    return true;
  });
}

// ---------------------------------------------------------------- hand-made files (the writers are in test/helpers/spiece.ts)

function trainerSpec(fields: Record<number, number>): number[] {
  return lenField(2, Object.entries(fields).flatMap(([f, v]) => intField(Number(f), v)));
}
const bytes = (...parts: number[][]) => new Uint8Array(parts.flat());

/** An XLNet-like vocabulary: <unk> 0, <s> 1, </s> 2, then control <cls>, <sep>, <pad>, <mask>, then ▁ and letters. */
function xlnetLikeModel(): Uint8Array {
  const specials = [piece('<unk>', 0, PieceType.UNKNOWN), piece('<s>', 0, PieceType.CONTROL), piece('</s>', 0, PieceType.CONTROL)];
  const controls = ['<cls>', '<sep>', '<pad>', '<mask>'].map((p) => piece(p, 0, PieceType.CONTROL));
  const normal = ['▁', '▁hello', '▁world', ...'abcdefghijklmnopqrstuvwxyz'].map((p, i) => piece(p, -1 - i * 0.1));
  return bytes(...specials, ...controls, ...normal, trainerSpec({ 3: 1, 40: 0, 41: 1, 42: 2, 43: 5 }));
}

// ---------------------------------------------------------------- golden ids from sentencepiece

describe('spiece.model against sentencepiece (golden.json)', () => {
  const dir = modelDir({ 'config.json': { model_type: 'albert' }, 'spiece.model': MODEL_BYTES });
  const tok = TextTokenizer.fromDir(dir);

  /** Our ids between [CLS] and [SEP] must be sentencepiece's; so must the pieces, except where sentencepiece reports an unknown span's text. */
  function assertMatches(t: TextTokenizer, c: GoldenCase): void {
    const enc = t.encode(c.text, null, { maxLength: 512 });
    assert.equal(enc.ids[0], ALBERT_IDS.cls);
    assert.equal(enc.ids[enc.ids.length - 1], ALBERT_IDS.sep);
    assert.deepEqual(enc.ids.slice(1, -1), c.ids, JSON.stringify(c.text));
    const pieces = enc.tokens.slice(1, -1);
    c.pieces.forEach((p, i) => { if (c.ids[i] !== GOLDEN.unk_id) assert.equal(pieces[i], p, `${JSON.stringify(c.text)} piece ${i}`); });
  }

  test('the fixture is what the README says', () => {
    assert.equal(tok.vocabSize, GOLDEN.vocab_size);
    assert.deepEqual(tok.specialIds, ALBERT_IDS);
    assert.equal(tok.kind, 'unigram');
    assert.equal(tok.doLowerCase, true);
    assert.ok(GOLDEN.cases.length >= 20);
    // The golden set exercises unknowns and the empty string, or the comparisons below prove less.
    assert.ok(GOLDEN.cases.some((c) => c.ids.includes(GOLDEN.unk_id)));
    assert.ok(GOLDEN.cases.some((c) => c.text === '' && c.ids.length === 0));
  });

  for (const c of GOLDEN.cases) {
    test(`same ids as sentencepiece: ${JSON.stringify(c.text)}`, () => assertMatches(tok, c));
  }

  test('a wrong id or piece in the golden data would be caught', () => {
    const c = GOLDEN.cases.find((x) => x.ids.length > 3)!;
    assert.throws(() => assertMatches(tok, { ...c, ids: [c.ids[0]! + 1, ...c.ids.slice(1)] }));
    assert.throws(() => assertMatches(tok, { ...c, ids: c.ids.slice(0, -1), pieces: c.pieces.slice(0, -1) }));
  });

  test('lower-casing matters for the upper-case case (do_lower_case: false gives other ids)', () => {
    const cased = TextTokenizer.fromDir(modelDir({ 'config.json': { model_type: 'albert' }, 'tokenizer_config.json': { do_lower_case: false }, 'spiece.model': MODEL_BYTES }));
    assert.equal(cased.doLowerCase, false);
    const c = GOLDEN.cases.find((x) => x.text.startsWith('UPPER'))!;
    assert.throws(() => assertMatches(cased, c));
    // Lower-case text is unaffected.
    assertMatches(cased, GOLDEN.cases.find((x) => x.text === 'a')!);
  });

  test('save() writes a tokenizer.json that reloads to the same ids', () => {
    const out = path.join(root, 'saved-albert');
    tok.save(out);
    const tj = JSON.parse(fs.readFileSync(path.join(out, 'tokenizer.json'), 'utf8'));
    assert.equal(tj.model.type, 'Unigram');
    assert.equal(tj.model.unk_id, 1);
    assert.equal(tj.model.vocab.length, GOLDEN.vocab_size);
    const pre = (tj.normalizer.normalizers as { type: string; precompiled_charsmap?: string }[]).find((n) => n.type === 'Precompiled');
    assert.ok(pre?.precompiled_charsmap && Buffer.from(pre.precompiled_charsmap, 'base64').length > 0, 'the charsmap travels into tokenizer.json');
    assert.deepEqual(tj.pre_tokenizer, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true });
    const back = TextTokenizer.fromDir(out);
    assert.equal(back.source, path.join(out, 'tokenizer.json'));
    assert.deepEqual(back.specialIds, ALBERT_IDS);
    for (const c of GOLDEN.cases) assertMatches(back, c);
  });
});

// ---------------------------------------------------------------- directory loading

describe('TextTokenizer.fromDir with a SentencePiece model', () => {
  test('ALBERT: [CLS] A [SEP] B [SEP] with type ids 0 / 1, and decoding', () => {
    const t = TextTokenizer.fromDir(modelDir({ 'config.json': { model_type: 'albert' }, 'spiece.model': MODEL_BYTES }));
    const e = t.encode('the cat', 'the dog');
    assert.deepEqual(e.tokens, ['[CLS]', '▁the', '▁ca', 't', '[SEP]', '▁the', '▁dog', '[SEP]']);
    assert.deepEqual(e.tokenTypeIds, [0, 0, 0, 0, 0, 1, 1, 1]);
    assert.deepEqual(e.specialTokensMask, [1, 0, 0, 0, 1, 0, 0, 1]);
    assert.deepEqual(e.wordIds, [null, 0, 1, 1, null, 0, 1, null]);
    assert.equal(t.decode(t.encode('The cat sat on the mat.').ids, { skipSpecialTokens: true }), 'the cat sat on the mat.');
    for (const id of Object.values(ALBERT_IDS)) assert.ok(t.isSpecialOrUnused(id));
    assert.ok(!t.isSpecialOrUnused(5));
  });

  test('tokenizer_class in tokenizer_config.json is enough without config.json', () => {
    const t = TextTokenizer.fromDir(modelDir({ 'tokenizer_config.json': { tokenizer_class: 'AlbertTokenizer' }, 'spiece.model': MODEL_BYTES }));
    assert.deepEqual(t.specialIds, ALBERT_IDS);
  });

  test('DeBERTa-v2: spm.model, no lower-casing by default, [PAD] appended when absent', () => {
    const d = modelDir({ 'config.json': { model_type: 'deberta-v2' }, 'spm.model': MODEL_BYTES });
    const t = TextTokenizer.fromDir(d);
    assert.equal(t.source, path.join(d, 'spm.model'));
    assert.equal(t.doLowerCase, false);
    assert.deepEqual(t.encode('the cat').tokens, ['[CLS]', '▁the', '▁ca', 't', '[SEP]']);
    // The fixture's pieces hold no upper case letters.
    assert.ok(t.encode('The').ids.includes(t.specialIds.unk));
    // DeBERTa-v2's pad token is [PAD]; like HF's slow tokenizer, a missing one is appended after the last piece.
    assert.equal(t.specialIds.pad, GOLDEN.vocab_size);
    assert.equal(t.vocabSize, GOLDEN.vocab_size + 1);
    const named = TextTokenizer.fromDir(modelDir({ 'config.json': { model_type: 'deberta-v2' }, 'tokenizer_config.json': { pad_token: '<pad>' }, 'spm.model': MODEL_BYTES }));
    assert.equal(named.specialIds.pad, 0);
    assert.equal(named.vocabSize, GOLDEN.vocab_size);
  });

  test('DeBERTa-v2 split_by_punct makes punctuation words of its own', () => {
    const t = TextTokenizer.fromDir(modelDir({ 'config.json': { model_type: 'deberta-v2' }, 'tokenizer_config.json': { split_by_punct: true, pad_token: '<pad>' }, 'spm.model': MODEL_BYTES }));
    const plain = TextTokenizer.fromDir(modelDir({ 'config.json': { model_type: 'deberta-v2' }, 'tokenizer_config.json': { pad_token: '<pad>' }, 'spm.model': MODEL_BYTES }));
    assert.deepEqual(plain.encode('dog.').tokens, ['[CLS]', '▁dog', '.', '[SEP]']);
    assert.deepEqual(t.encode('dog.').tokens, ['[CLS]', '▁dog', '▁', '.', '[SEP]']);
  });

  test('XLNet: <cls> and <sep> (not <s>), A <sep> B <sep> <cls> with <cls> of type 2', () => {
    const t = TextTokenizer.fromDir(modelDir({ 'config.json': { model_type: 'xlnet' }, 'spiece.model': xlnetLikeModel() }));
    assert.deepEqual(t.specialIds, { unk: 0, cls: 3, sep: 4, pad: 5, mask: 6 });
    assert.equal(t.doLowerCase, false);
    const single = t.encode('hello world');
    assert.deepEqual(single.tokens, ['▁hello', '▁world', '<sep>', '<cls>']);
    assert.deepEqual(single.tokenTypeIds, [0, 0, 0, 2]);
    const pair = t.encode('hello', 'world');
    assert.deepEqual(pair.tokens, ['▁hello', '<sep>', '▁world', '<sep>', '<cls>']);
    assert.deepEqual(pair.tokenTypeIds, [0, 0, 1, 1, 2]);
    // Unknown characters fuse into one <unk>, as sentencepiece does.
    assert.deepEqual(t.encode('hello 東京').ids, [8, 7, 0, 4, 3]);
    // A null in the config is "not configured", not a licence to guess <s>.
    const nulls = TextTokenizer.fromDir(modelDir({ 'config.json': { model_type: 'xlnet' }, 'tokenizer_config.json': { cls_token: null }, 'spiece.model': xlnetLikeModel() }));
    assert.equal(nulls.specialIds.cls, 3);
  });

  test('tokenizer.json still wins over spiece.model', () => {
    const saved = path.join(root, 'json-and-spiece');
    TextTokenizer.fromDir(modelDir({ 'config.json': { model_type: 'albert' }, 'spiece.model': MODEL_BYTES })).save(saved);
    fs.writeFileSync(path.join(saved, 'spiece.model'), new Uint8Array([0x2b]));
    assert.equal(TextTokenizer.fromDir(saved).source, path.join(saved, 'tokenizer.json'));
  });

  test('an unknown family is refused naming the file', () => {
    const d = modelDir({ 'config.json': { model_type: 'bert' }, 'spiece.model': MODEL_BYTES });
    oneLineError(() => TextTokenizer.fromDir(d), path.join(d, 'spiece.model'), 'model_type "bert"', 'albert, xlnet, deberta-v2');
    const bare = modelDir({ 'spiece.model': MODEL_BYTES });
    oneLineError(() => TextTokenizer.fromDir(bare), path.join(bare, 'spiece.model'), 'no config.json');
  });

  test('a malformed spiece.model in a directory is one line naming it', () => {
    const d = modelDir({ 'config.json': { model_type: 'albert' }, 'spiece.model': MODEL_BYTES.subarray(0, 3000) });
    oneLineError(() => TextTokenizer.fromDir(d), `${path.join(d, 'spiece.model')}: `, 'truncated');
  });

  test('ids beyond the embedding rows are refused', () => {
    const d = modelDir({ 'config.json': { model_type: 'albert' }, 'spiece.model': MODEL_BYTES });
    oneLineError(() => TextTokenizer.fromDir(d, { idBound: { limit: 300, what: 'the 300 embedding rows' } }), path.join(d, 'spiece.model'), 'the 300 embedding rows');
  });
});

// ---------------------------------------------------------------- the protobuf reader

describe('parseSentencePieceModel', () => {
  const FILE = 'hostile/spiece.model';
  const fails = (b: Uint8Array, ...fragments: string[]) => oneLineError(() => parseSentencePieceModel(b, FILE), `${FILE}: `, ...fragments);

  test('reads the fixture', () => {
    const m = parseSentencePieceModel(MODEL_BYTES, FILE);
    assert.equal(m.pieces.length, GOLDEN.vocab_size);
    assert.deepEqual(m.pieces.slice(0, 5).map((p) => [p.piece, p.type]), [['<pad>', 3], ['<unk>', 2], ['[CLS]', 3], ['[SEP]', 3], ['[MASK]', 3]]);
    assert.equal(m.modelType, 1);
    assert.deepEqual([m.unkId, m.bosId, m.eosId, m.padId], [1, -1, -1, 0]);
    assert.equal(m.normalizerName, 'user_defined');
    assert.ok(m.precompiledCharsmap.length > 0);
    assert.equal(m.addDummyPrefix, true);
  });

  test('skips unknown fields of every wire type, reads 10-byte negative varints', () => {
    const unknown = [...intField(90, 7), ...tag(91, 1), 1, 2, 3, 4, 5, 6, 7, 8, ...lenField(92, [1, 2, 3]), ...tag(93, 5), 1, 2, 3, 4];
    const pieceWithExtra = lenField(1, [...lenField(1, utf8('a')), ...unknown, ...floatField(2, -1.5)]);
    const m = parseSentencePieceModel(bytes(unknown, pieceWithExtra, trainerSpec({ 40: 0, 41: -1, 43: -1, 99: 5 }), lenField(3, [...unknown, ...intField(3, 0)])), FILE);
    assert.deepEqual(m.pieces, [{ piece: 'a', score: -1.5, type: PieceType.NORMAL }]);
    assert.equal(varint(-1).length, 10);
    assert.deepEqual([m.bosId, m.padId, m.eosId], [-1, -1, 2]);
    assert.equal(m.addDummyPrefix, false);
  });

  test('empty file', () => fails(new Uint8Array(0), 'is empty'));
  test('truncated file', () => fails(MODEL_BYTES.subarray(0, Math.floor(MODEL_BYTES.length / 2)), 'truncated'));
  test('a length prefix past the end', () => fails(bytes([0x0a], varint(1000), [1, 2, 3]), 'says 1,000 bytes but only 3 bytes remain'));
  test('a length prefix past the end of its enclosing message', () => fails(bytes(lenField(1, [...tag(1, 2), 50, 0x61])), 'pieces[0]', 'says 50 bytes but only 1 bytes remain'));
  test('a varint of 11 bytes', () => fails(bytes(tag(2, 2), [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 'longer than 10 bytes'));
  test('a varint cut off at the end', () => fails(bytes(piece('a', 0), [0x80]), 'truncated: varint'));
  test('wire type 3 (group start)', () => fails(bytes(piece('a', 0), tag(7, 3)), 'wire type 3'));
  test('wire type 4 (group end)', () => fails(bytes(tag(7, 4)), 'wire type 4'));
  test('wire types 6 and 7', () => {
    fails(bytes(tag(7, 6)), 'wire type 6');
    fails(bytes(lenField(2, tag(12, 7))), 'trainer_spec', 'wire type 7');
  });
  test('field number 0', () => fails(bytes([0x02, 0x00]), 'invalid field number 0'));
  test('a known field with another wire type', () => fails(bytes(intField(1, 5)), 'pieces (field 1) has wire type 0'));
  test('too many pieces', () => {
    const one = lenField(1, lenField(1, utf8('a'))); // 5 bytes: a piece with text only
    const n = SENTENCEPIECE_LIMITS.maxPieces + 1;
    const b = new Uint8Array(n * one.length);
    for (let i = 0; i < n; i++) b.set(one, i * one.length);
    fails(b, 'more than 1,000,000 pieces');
  });
  test('a file over 64 MiB', () => fails(new Uint8Array(SENTENCEPIECE_LIMITS.maxFileBytes + 1), 'over the 67,108,864 bytes limit'));
  test('no pieces', () => fails(bytes(trainerSpec({ 3: 1 })), 'has no pieces'));
  test('a piece without text, an empty one, an over-long one, invalid UTF-8', () => {
    fails(bytes(lenField(1, floatField(2, 0))), 'pieces[0]: has no piece text');
    fails(bytes(piece('a', 0), lenField(1, lenField(1, []))), 'pieces[1]: has an empty piece text');
    fails(bytes(lenField(1, lenField(1, utf8('x'.repeat(SENTENCEPIECE_LIMITS.maxPieceBytes + 1))))), 'pieces[0]', 'limit 16,384 bytes');
    fails(bytes(lenField(1, lenField(1, [0xff, 0xfe]))), 'pieces[0]', 'not valid UTF-8');
  });
  test('a score that is not finite', () => fails(bytes(piece('a', 0), piece('b', NaN)), 'pieces[1]', 'score is NaN'));
  test('an unknown piece type', () => fails(bytes(piece('a', 0, 9)), 'type 9 is not a SentencePiece piece type'));
  test('duplicate pieces', () => fails(bytes(piece('a', 0), piece('b', 0), piece('a', -1)), 'pieces[2] repeats pieces[0] ("a")'));
});

describe('sentencePieceTokenizerJson', () => {
  const FILE = 'odd/spiece.model';
  const pieces = [piece('<unk>', 0, PieceType.UNKNOWN), piece('▁', -1), piece('a', -2)];

  test('BPE (and word, char) models are refused', () => {
    oneLineError(() => sentencePieceTokenizerJson(bytes(...pieces, trainerSpec({ 3: 2 })), FILE, { family: 'albert' }), FILE, 'is a BPE SentencePiece model', 'only Unigram');
    oneLineError(() => sentencePieceTokenizerJson(bytes(...pieces, trainerSpec({ 3: 4 })), FILE, { family: 'albert' }), 'is a character SentencePiece model');
    oneLineError(() => sentencePieceTokenizerJson(bytes(...pieces, trainerSpec({ 3: 9 })), FILE, { family: 'albert' }), 'model_type 9 is not');
  });

  test('an unk_id that names no piece', () => {
    oneLineError(() => sentencePieceTokenizerJson(bytes(...pieces, trainerSpec({ 40: 3 })), FILE, { family: 'albert' }), FILE, 'trainer_spec.unk_id 3 is not a piece id');
    oneLineError(() => sentencePieceTokenizerJson(bytes(...pieces, trainerSpec({ 40: -1 })), FILE, { family: 'albert' }), 'unk_id -1');
  });

  test('ALBERT demotes digit-comma pieces by 100, as HF does; DeBERTa-v2 does not', () => {
    const b = bytes(...pieces, piece('▁9,', -3), piece('x,', -4), trainerSpec({ 40: 0 }));
    const albert = sentencePieceTokenizerJson(b, FILE, { family: 'albert' }).model;
    const deberta = sentencePieceTokenizerJson(b, FILE, { family: 'deberta-v2' }).model;
    assert.ok(albert.type === 'Unigram' && deberta.type === 'Unigram');
    assert.deepEqual(albert.vocab.slice(3).map((v) => [v[0], Math.round(v[1])]), [['▁9,', -103], ['x,', -4]]);
    assert.deepEqual(deberta.vocab.slice(3).map((v) => [v[0], Math.round(v[1])]), [['▁9,', -3], ['x,', -4]]);
  });

  test('normalizers follow the family (and no Precompiled without a charsmap)', () => {
    const b = bytes(...pieces, trainerSpec({ 40: 0 }));
    const types = (o: Parameters<typeof sentencePieceTokenizerJson>[2]) =>
      (sentencePieceTokenizerJson(b, FILE, o).normalizer!.normalizers as { type: string }[]).map((n) => n.type);
    assert.deepEqual(types({ family: 'albert' }), ['Replace', 'Replace', 'NFKD', 'StripAccents', 'Lowercase', 'Replace']);
    const albert = sentencePieceTokenizerJson(b, FILE, { family: 'albert' }).normalizer!.normalizers as object[];
    assert.deepEqual(albert[0], { type: 'Replace', pattern: { String: '``' }, content: '"' });
    assert.deepEqual(albert[albert.length - 1], { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' });
    assert.deepEqual(types({ family: 'albert', lowercase: false, keepAccents: true }), ['Replace', 'Replace', 'Replace']);
    assert.deepEqual(types({ family: 'xlnet' }), ['Replace', 'Replace', 'NFKD', 'StripAccents', 'Replace']);
    assert.deepEqual(types({ family: 'deberta-v2', lowercase: true }), ['Lowercase', 'Strip', 'Replace']);
    const withMap = sentencePieceTokenizerJson(MODEL_BYTES, FILE, { family: 'deberta-v2' }).normalizer!.normalizers as { type: string }[];
    assert.deepEqual(withMap.map((n) => n.type), ['Strip', 'Precompiled', 'Replace']);
  });

  test('no dummy prefix in the model: Metaspace prepends nothing', () => {
    const b = bytes(...pieces, trainerSpec({ 40: 0 }), lenField(3, intField(3, 0)));
    const j = sentencePieceTokenizerJson(b, FILE, { family: 'albert' });
    assert.equal(j.pre_tokenizer!.prepend_scheme, 'never');
    assert.equal(j.decoder!.prepend_scheme, 'never');
  });
});
