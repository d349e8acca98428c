/**
 * Issue #12, item 5: one entry check for every loader and command. A missing
 * path, a file instead of a directory, and a directory without config.json
 * read the same whether they reach loadModel, loadEncoderConfig,
 * loadCheckpoint, TextTokenizer.fromDir or the CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint, modelHash } from '../../src/formats/checkpoint.js';
import { FormatError } from '../../src/formats/errors.js';
import { loadEncoderConfig } from '../../src/formats/hf-config.js';
import { openModelDir } from '../../src/formats/model-dir.js';
import { loadModel } from '../../src/models/model.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { tmpDir, writeTinyModel } from './model-files.js';

const BIN = path.join(import.meta.dirname, '..', '..', '..', 'bin', 'lmsanitator.js');
const root = tmpDir('entry');
const missing = path.join(root, 'nope');
const file = path.join(root, 'model.bin');
fs.writeFileSync(file, '{"not": "a model"}');
const empty = path.join(root, 'empty');
fs.mkdirSync(empty);

const EXPECTED: [string, string][] = [
  [missing, `${missing}: no such model directory`],
  [file, `${file}: not a model directory (it is a file)`],
  [empty, `${empty}: not a model directory (no config.json)`],
];

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof FormatError, `not a FormatError: ${String(e)}`);
    return e.message;
  }
  return '(no error)';
}

test('loadModel, loadEncoderConfig and openModelDir word the three cases identically', () => {
  for (const [p, expected] of EXPECTED) {
    assert.equal(messageOf(() => loadModel(p)), expected);
    assert.equal(messageOf(() => loadEncoderConfig(p)), expected);
    assert.equal(messageOf(() => openModelDir(p, { requireConfig: true })), expected);
  }
});

test('loadCheckpoint, modelHash and TextTokenizer.fromDir share the path checks (they need no config.json)', () => {
  for (const [p, expected] of EXPECTED.slice(0, 2)) {
    assert.equal(messageOf(() => loadCheckpoint(p)), expected);
    assert.equal(messageOf(() => modelHash(p)), expected);
    assert.equal(messageOf(() => TextTokenizer.fromDir(p)), expected);
  }
});

test('every command gives the same one-line message and exit code 2', () => {
  const commands: string[][] = [['scan'], ['inspect'], ['encode', '--text', 'hi']];
  for (const [p, expected] of EXPECTED) {
    for (const [cmd, ...rest] of commands) {
      const r = spawnSync(process.execPath, [BIN, cmd!, p, ...rest], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 2, `${cmd} ${p}: ${r.stderr}`);
      assert.equal(r.stderr, `lmsanitator: ${expected}\n`, `${cmd} ${p}`);
    }
  }
  assert.ok(!fs.existsSync(`${missing}.scan`), 'scan of a missing directory created no output directory');
});

test('a valid model directory passes the check and loads', () => {
  const m = writeTinyModel(path.join(root, 'ok'));
  assert.equal(openModelDir(m.dir, { requireConfig: true }).dir, m.dir);
  const loaded = loadModel(m.dir);
  assert.equal(loaded.checkpoint!.format, 'safetensors');
  assert.deepEqual(loaded.checkpoint!.files, [path.join(m.dir, 'model.safetensors')]);
  assert.equal(loaded.hash, modelHash(m.dir));
  assert.deepEqual(loaded.unusedKeys, []);
});
