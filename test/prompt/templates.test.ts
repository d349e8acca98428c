/** Templates: parsing, where the prompt rows and mask land, token types of pairs, truncation that spares the template, verbalizer ids. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cutLengths, displayTemplate, encodeTemplate, parseTemplate, TEMPLATES, verbalizerIds } from '../../src/prompt/templates.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { promptTokenizer } from './helpers.js';

const tok = promptTokenizer();
const values = (task: string, a: string, b = 'the film') =>
  Object.fromEntries(Object.entries(TEMPLATES[task]!.fields).map(([name, f]) => [name, f === 'text' ? a : b]));

test('parseTemplate refuses templates a verbalizer could not read', () => {
  const fields = { text: 'text' as const };
  assert.throws(() => parseTemplate({ template: '<text> <p> <mask> <mask>', fields }), /exactly one <mask>/);
  assert.throws(() => parseTemplate({ template: '<text> <mask>', fields }), /at least one <p>/);
  assert.throws(() => parseTemplate({ template: '<txt> <p> <mask>', fields }), /unknown field <txt>/);
  assert.deepEqual(parseTemplate({ template: '<text> Is it? <p><p> <mask>', fields: { text: 'text' } }).map((p) => p.kind), ['field', 'literal', 'literal', 'prompt', 'prompt', 'mask']);
  assert.equal(displayTemplate(TEMPLATES.rte!.template), '<premise> Question: <hypothesis> ? <p> Answer: <mask> .');
});

test('every task template: one mask, its prompt rows at placeholder ids, [CLS] … [SEP]', () => {
  for (const [task, spec] of Object.entries(TEMPLATES)) {
    const parts = parseTemplate(spec);
    for (const per of [1, 3]) {
      const e = encodeTemplate(tok, parts, values(task, 'a great movie'), { maxLength: 64, rowsPerPlaceholder: per });
      assert.equal(e.ids.filter((id) => id === tok.specialIds.mask).length, 1, task);
      assert.equal(e.ids[e.maskAt], tok.specialIds.mask, task);
      assert.equal(e.promptAt.length, parts.filter((p) => p.kind === 'prompt').length * per, task);
      for (const t of e.promptAt) assert.equal(e.ids[t], tok.specialIds.unk, `${task}: prompt rows sit on the placeholder id`);
      assert.equal(e.ids[0], tok.specialIds.cls);
      assert.equal(e.ids[e.ids.length - 1], tok.specialIds.sep);
      assert.equal(e.ids.length, e.typeIds.length);
    }
  }
});

test('pairs: segment B (after the first [SEP]) has token type 1, single templates are all 0', () => {
  const rte = encodeTemplate(tok, parseTemplate(TEMPLATES.rte!), values('rte', 'the film was good', 'it was good'), { maxLength: 64 });
  const firstSep = rte.ids.indexOf(tok.specialIds.sep);
  assert.ok(firstSep > 0 && firstSep < rte.ids.length - 1, 'two segments');
  assert.deepEqual(rte.typeIds, rte.ids.map((_, i) => (i <= firstSep ? 0 : 1)));
  assert.ok(rte.maskAt > firstSep && rte.promptAt[0]! > firstSep, 'prompt and mask are in segment B');
  // The premise is segment A: [CLS] the film was good [SEP].
  assert.deepEqual(rte.ids.slice(1, firstSep), tok.encode('the film was good', null, { addSpecialTokens: false }).ids);
  const sst = encodeTemplate(tok, parseTemplate(TEMPLATES.sst2!), { text: 'a fine film' }, { maxLength: 64 });
  assert.ok(sst.typeIds.every((t) => t === 0));
});

test('truncation cuts only the text: template words, prompt rows, mask and specials survive', () => {
  const film = tok.tokenToId('film')!;
  const long = Array.from({ length: 300 }, () => 'film').join(' ');
  for (const task of Object.keys(TEMPLATES)) {
    const parts = parseTemplate(TEMPLATES[task]!);
    const empty = encodeTemplate(tok, parts, values(task, '', ''), { maxLength: 64, rowsPerPlaceholder: 2 });
    const cut = encodeTemplate(tok, parts, values(task, long, long), { maxLength: 40, rowsPerPlaceholder: 2 });
    assert.equal(cut.ids.length, 40, task);
    assert.equal(cut.truncated, true);
    assert.equal(empty.truncated, false);
    // Without the text's tokens, the cut encoding is exactly the empty-text one.
    assert.deepEqual(cut.ids.filter((id) => id !== film), empty.ids, task);
    assert.equal(cut.promptAt.length, empty.promptAt.length);
    assert.equal(cut.ids[cut.maskAt], tok.specialIds.mask);
  }
  assert.throws(() => encodeTemplate(tok, parseTemplate(TEMPLATES['sms-spam']!), { text: 'hi' }, { maxLength: 6 }), /cannot hold the template/);
});

test('a text at the start keeps its head and the template tail stays in place', () => {
  const parts = parseTemplate(TEMPLATES.sst2!);
  const empty = encodeTemplate(tok, parts, { text: '' }, { maxLength: 64 });
  const words = Array.from({ length: 100 }, (_, i) => ['the', 'film', 'was', 'a'][i % 4]).join(' ');
  const cut = encodeTemplate(tok, parts, { text: words }, { maxLength: 20 });
  const tail = empty.ids.length - 1; // everything after [CLS]
  assert.deepEqual(cut.ids.slice(-tail), empty.ids.slice(-tail), 'It was <p> <mask> . [SEP] are intact');
  assert.deepEqual(cut.ids.slice(1, 20 - tail), tok.encode(words, null, { addSpecialTokens: false, maxLength: 20 - tail - 1 }).ids, 'the head of the text');
  assert.equal(cut.maskAt, 20 - 3);
});

test('two text fields are cut as HF longest_first cuts a pair', () => {
  const one = (n: number) => Array.from({ length: n }, () => 'the').join(' ');
  for (const [a, b, budget] of [[10, 4, 8], [7, 6, 8], [7, 6, 7], [3, 30, 9], [30, 3, 9], [5, 5, 3], [0, 9, 4]] as const) {
    const enc = tok.encode(one(a), one(b), { maxLength: budget + 3 });
    const got = [enc.sequenceIds.filter((s) => s === 0).length, enc.sequenceIds.filter((s) => s === 1).length];
    assert.deepEqual(cutLengths([a, b], budget), got, `${a}+${b} in ${budget}`);
  }
  assert.deepEqual(cutLengths([5], 3), [3]);
  assert.deepEqual(cutLengths([4, 9, 2], 9), [3, 4, 2]);
});

test('verbalizer: first piece of a split word with a warning; [UNK] and shared first pieces refused', () => {
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'terr', '##ible', '##ific', 'great', 'no', 'yes', 'nope'];
  const t = TextTokenizer.fromWordPieceVocab(vocab);
  const v = verbalizerIds(t, ['terrible', 'great']);
  assert.deepEqual(v.ids, [t.tokenToId('terr'), t.tokenToId('great')]);
  assert.equal(v.warnings.length, 1);
  assert.match(v.warnings[0]!, /"terrible" is split into 2 pieces .*"terr" stands for the label/);
  assert.throws(() => verbalizerIds(t, ['okay', 'great']), /"okay" is not in the tokenizer's vocabulary/);
  assert.throws(() => verbalizerIds(t, ['terrible', 'terrific']), /both begin with token "terr"/);
  assert.deepEqual(verbalizerIds(tok, TEMPLATES['yelp-5']!.verbalizer).warnings, [], 'the test vocabulary holds every verbalizer word');
});
