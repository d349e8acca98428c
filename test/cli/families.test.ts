/**
 * `inspect` and `encode` open each family's golden checkpoint (ELECTRA with
 * and without its E → H projection, ALBERT with one shared layer and with
 * two groups, DeBERTa-v2 with its ConvLayer, XLNet with and without
 * clamp_len): the weights are the golden
 * fixtures' (their numbers are checked against the torch reference in
 * test/models/golden.test.ts), a small WordPiece vocabulary (XLNet: a
 * spiece.model) is written beside them, and both commands must describe
 * and run them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { xlnetSpieceModel } from '../helpers/spiece.js';
import { tmpDir } from '../helpers/tmp.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const GOLDEN = join(ROOT, 'test', 'fixtures', 'golden');
const BIN = join(ROOT, 'bin', 'lmsanitator.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

/** A copy of a golden case with a vocabulary of exactly its embedding rows: [PAD] 0, then specials, then w5, w6, … */
function withVocab(name: string): { dir: string; golden: { dims: { vocab: number; hidden: number } } } {
  const dir = join(tmpDir(`family-${name}`), name);
  cpSync(join(GOLDEN, name), dir, { recursive: true });
  const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
  const words = Array.from({ length: golden.dims.vocab - 5 }, (_, i) => `w${i + 5}`);
  writeFileSync(join(dir, 'vocab.txt'), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...words].join('\n') + '\n');
  return { dir, golden };
}

const CASES = [
  { name: 'electra_proj', type: 'electra', unused: ['discriminator_predictions.dense.bias', 'discriminator_predictions.dense.weight'], arch: /2 layers × hidden 24, embeddings 16/ },
  { name: 'electra_square', type: 'electra', unused: [], arch: /1 layers × hidden 20, 2 heads/ },
  { name: 'albert_shared', type: 'albert', unused: [], arch: /3 layers \(1 shared group of 1\) × hidden 20, embeddings 12, .*gelu_new/ },
  { name: 'albert_groups', type: 'albert', unused: [], arch: /4 layers \(2 shared groups of 2\) × hidden 16, embeddings 10/ },
  { name: 'deberta_conv', type: 'deberta-v2', unused: [], arch: /2 layers × hidden 16, 2 heads, FF 24, gelu, ConvLayer after layer 0 \(kernel 3, tanh\)$/ },
];

for (const c of CASES) {
  test(`inspect and encode open the ${c.name} golden checkpoint`, () => {
    const { dir, golden } = withVocab(c.name);
    const r = cli('inspect', dir, '--json', '--text', 'w7 w8 w9');
    assert.equal(r.status, 0, r.stderr);
    const o = JSON.parse(r.stdout);
    assert.equal(o.model_type, c.type);
    assert.match(o.architecture, c.arch);
    assert.equal(o.parameters, o.parameters_expected_from_config, 'every parameter the config implies, no more');
    assert.deepEqual(o.heads, ['masked-lm']);
    assert.deepEqual([...o.unused_checkpoint_keys].sort(), c.unused);
    assert.deepEqual(o.sample.ids, [2, 7, 8, 9, 3]);

    const e = cli('encode', dir, '--text', 'w7 w8 w9', '--json');
    assert.equal(e.status, 0, e.stderr);
    const out = JSON.parse(e.stdout);
    assert.deepEqual(out.input_ids.flat(), [2, 7, 8, 9, 3]);
    const hidden = (out.last_hidden_state as number[][][] | number[][]).flat(2) as number[];
    assert.equal(hidden.length, 5 * golden.dims.hidden);
    assert.ok(hidden.every(Number.isFinite));
    if (c.type === 'electra' || c.type === 'deberta-v2') assert.equal(out.pooler_output, null, `${c.type} has no pooler`);
    else assert.equal((out.pooler_output as number[] | number[][]).flat().length, golden.dims.hidden);
  });
}

test('inspect describes a checkpoint with no tokenizer files at all, and says so', () => {
  const dir = join(tmpDir('family-bare'), 'deberta_conv');
  cpSync(join(GOLDEN, 'deberta_conv'), dir, { recursive: true });
  const r = cli('inspect', dir, '--json');
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.deepEqual([o.model_type, o.tokenizer, o.sample], ['deberta-v2', null, null]);
  assert.equal(o.parameters, o.parameters_expected_from_config);
  const text = cli('inspect', dir);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /tokenizer {6}none \(none of tokenizer\.json, vocab\.txt, vocab\.json \+ merges\.txt, or spiece\.model \/ spm\.model here\)/);
  // A tokenizer that is there but broken is still an error, one line naming the file.
  writeFileSync(join(dir, 'vocab.json'), '{"a": 0}');
  const broken = cli('inspect', dir);
  assert.equal(broken.status, 2);
  assert.match(broken.stderr, /found vocab\.json but not merges\.txt/);
  assert.equal(broken.stderr.trim().split('\n').length, 1);
});

/** XLNet's golden checkpoints with an XLNet tokenizer (spiece.model) of exactly their embedding rows. */
const XLNET_CASES = [
  { name: 'xlnet_base', arch: /^2 layers × hidden 24, 4 heads, FF 48, gelu$/ },
  { name: 'xlnet_clamp', arch: /^1 layers × hidden 16, 2 heads, FF 32, gelu$/ },
];

for (const c of XLNET_CASES) {
  test(`inspect and encode open the ${c.name} golden checkpoint (XLNet: A <sep> <cls>, no pooler)`, () => {
    const dir = join(tmpDir(`family-${c.name}`), c.name);
    cpSync(join(GOLDEN, c.name), dir, { recursive: true });
    const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
    writeFileSync(join(dir, 'spiece.model'), xlnetSpieceModel(golden.dims.vocab));
    const r = cli('inspect', dir, '--json', '--text', 'w7 w8 w9');
    assert.equal(r.status, 0, r.stderr);
    const o = JSON.parse(r.stdout);
    assert.equal(o.model_type, 'xlnet');
    assert.match(o.architecture, c.arch);
    assert.equal(o.parameters, o.parameters_expected_from_config, 'every parameter the config implies, no more');
    assert.deepEqual(o.heads, ['masked-lm'], 'lm_loss, tied to the word embedding');
    assert.deepEqual(o.unused_checkpoint_keys, [], 'lm_loss.weight is the tied copy; mask_emb a parameter');
    assert.equal(o.tokenizer.kind, 'unigram', 'read from spiece.model');
    assert.deepEqual(o.sample.ids, [7, 8, 9, 4, 3]);
    assert.deepEqual(o.sample.tokens, ['▁w7', '▁w8', '▁w9', '<sep>', '<cls>']);

    const e = cli('encode', dir, '--text', 'w7 w8 w9', '--json');
    assert.equal(e.status, 0, e.stderr);
    const out = JSON.parse(e.stdout);
    assert.deepEqual(out.token_type_ids.flat(), [0, 0, 0, 0, 2]);
    const hidden = (out.last_hidden_state as number[][][] | number[][]).flat(2) as number[];
    assert.equal(hidden.length, 5 * golden.dims.hidden);
    assert.ok(hidden.every(Number.isFinite));
    assert.equal(out.pooler_output, null, 'XLNet has no pooler');
  });
}
