/**
 * Issue #12, item 3: files that made a JavaScript internal error reach the
 * user ("type is not iterable", "Invalid typed array length", "Maximum call
 * stack size exceeded") with no file named. Each is now one line naming the
 * file and saying what is wrong with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadEncoderConfig } from '../../src/formats/hf-config.js';
import { loadModel } from '../../src/models/model.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { assertFormatError } from '../formats/helpers.js';
import { tmpDir, writeTinyModel } from './model-files.js';

const INTERNAL = /is not iterable|Invalid typed array length|Invalid array length|Maximum call stack|Cannot read propert|is not a function|undefined|\bat \S+:\d+:\d+/;

function model(o: Parameters<typeof writeTinyModel>[1] = {}) {
  return writeTinyModel(path.join(tmpDir('internal'), 'm'), o);
}

function editJson(file: string, edit: (j: Record<string, any>) => void): void {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
}

function refused(fn: () => unknown, file: string, pattern: RegExp): void {
  const msg = assertFormatError(fn, file, pattern);
  assert.doesNotMatch(msg, INTERNAL);
}

const nested = (depth: number, leaf: string) => '['.repeat(depth) + leaf + ']'.repeat(depth);

test('TemplateProcessing without "pair" (or with "B" in "single")', () => {
  const m = model({ tokenizer: 'tokenizer.json' });
  const file = path.join(m.dir, 'tokenizer.json');
  editJson(file, (j) => delete j.post_processor.pair);
  refused(() => TextTokenizer.fromDir(m.dir), file, /post_processor: TemplateProcessing needs a "pair" array/);
  editJson(file, (j) => {
    j.post_processor.pair = j.post_processor.single;
    j.post_processor.single = [{ Sequence: { id: 'B', type_id: 0 } }];
  });
  refused(() => TextTokenizer.fromDir(m.dir), file, /"single" cannot use sequence "B"/);
});

test('ids of 1e300 anywhere in a tokenizer are bounded, not allocated', () => {
  const m = model({ tokenizer: 'tokenizer.json' });
  const file = path.join(m.dir, 'tokenizer.json');
  editJson(file, (j) => j.added_tokens.push({ id: 1e300, content: '<huge>', special: true }));
  refused(() => TextTokenizer.fromDir(m.dir), file, /added_tokens\[\d+\] has an invalid id 1e\+300, beyond the limit of 1,000,000 ids/);
  refused(() => loadModel(m.dir), file, /added_tokens\[\d+\] has an invalid id 1e\+300, beyond the \d+ rows/);

  const b = model({ modelType: 'roberta' });
  const vj = path.join(b.dir, 'vocab.json');
  editJson(vj, (j) => (j['Ġzz'] = 1e300));
  refused(() => loadModel(b.dir), vj, /vocab token "Ġzz" has an invalid id 1e\+300/);
});

test('vocab.json with a value nested 100,000 deep', () => {
  const m = model({ modelType: 'roberta' });
  const vj = path.join(m.dir, 'vocab.json');
  fs.writeFileSync(vj, `{"a": 0, "b": ${nested(100_000, '1')}}`);
  refused(() => loadModel(m.dir), vj, /JSON nests deeper than 2 levels \(at byte 15\)/);
});

test('tokenizer.json with a normalizer nested 100,000 deep (as JSON, or as Sequences within the JSON bound)', () => {
  const m = model({ tokenizer: 'tokenizer.json' });
  const file = path.join(m.dir, 'tokenizer.json');
  const text = fs.readFileSync(file, 'utf8');
  const deep = '{"type":"Sequence","normalizers":['.repeat(100_000) + ']}'.repeat(100_000);
  fs.writeFileSync(file, text.replace(/"normalizer":\{[^}]*\}/, `"normalizer":${deep}`));
  refused(() => TextTokenizer.fromDir(m.dir), file, /JSON nests deeper than 32 levels/);
  fs.writeFileSync(file, text);
  // Twelve Sequences are within the JSON bound (about 26 levels) but past the component bound.
  const seq = (n: number): unknown => (n === 0 ? { type: 'Lowercase' } : { type: 'Sequence', normalizers: [seq(n - 1)] });
  editJson(file, (j) => (j.normalizer = seq(12)));
  refused(() => TextTokenizer.fromDir(m.dir), file, /Sequence nests deeper than 8 levels/);
});

test('config.json nested 100,000 deep, and other nesting bombs', () => {
  const m = model();
  const cfg = path.join(m.dir, 'config.json');
  fs.writeFileSync(cfg, `{"model_type": "bert", "x": ${nested(100_000, '0')}}`);
  refused(() => loadEncoderConfig(m.dir), cfg, /JSON nests deeper than 16 levels/);
  const t = model();
  const tc = path.join(t.dir, 'tokenizer_config.json');
  fs.writeFileSync(tc, `{"x": ${nested(100_000, '0')}}`);
  refused(() => TextTokenizer.fromDir(t.dir), tc, /JSON nests deeper than 16 levels/);
});

test('components the library would loop on or misread are refused by name', () => {
  const cases: [string, (j: Record<string, any>) => void, RegExp][] = [
    ['FixedLength of length 0 (an endless loop filling memory)', (j) => (j.pre_tokenizer = { type: 'FixedLength', length: 0 }), /pre_tokenizer: "length" is 0; expected an integer from 1 to 4096/],
    ['unknown pre-tokenizer', (j) => (j.pre_tokenizer = { type: 'Frob' }), /pre_tokenizer: type "Frob" is not supported/],
    ['Sequence without its list', (j) => (j.decoder = { type: 'Sequence' }), /decoder: Sequence needs a "decoders" array/],
    ['null inside a Sequence', (j) => (j.decoder = { type: 'Sequence', decoders: [null] }), /decoder\.decoders\[0\]: must be an object/],
    ['pattern of the wrong shape', (j) => (j.normalizer = { type: 'Replace', pattern: 'x', content: '' }), /"pattern" must be \{"Regex": string\} or \{"String": string\}/],
    ['RobertaProcessing with a bad id', (j) => (j.post_processor = { type: 'RobertaProcessing', sep: ['[SEP]', -1], cls: ['[CLS]', 2] }), /post_processor "sep" has an invalid id: -1; expected a non-negative integer/],
    ['template special token with ids past the vocabulary', (j) => (j.post_processor.special_tokens['[CLS]'].ids = [5e9]), /special_tokens\["\[CLS\]"\]\.ids\[0\] has an invalid id 5000000000/],
    ['a regex that does not compile', (j) => (j.pre_tokenizer = { type: 'Split', pattern: { Regex: '(' }, behavior: 'Isolated', invert: false }), /the tokenizer library failed while building the tokenizer \(a regular expression does not compile\)/],
  ];
  for (const [what, edit, pattern] of cases) {
    const m = model({ tokenizer: 'tokenizer.json' });
    const file = path.join(m.dir, 'tokenizer.json');
    editJson(file, edit);
    const msg = assertFormatError(() => TextTokenizer.fromDir(m.dir), file, pattern);
    assert.doesNotMatch(msg, INTERNAL, what);
  }
});
