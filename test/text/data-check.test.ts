/** The bundled slices and `lmsanitator data check`: every slice parses with the commands' own readers, and missing data is reported. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkDataDir } from '../../src/text/data-check.js';
import { bundledDataDir, packageRoot } from '../../src/text/data-dir.js';
import { tmpDir } from '../train/helpers.js';

const BIN = join(packageRoot(), 'bin', 'lmsanitator.js');

test('the bundled slices hold every file the fine-tuning and clean-set commands read, with the documented row counts', () => {
  const r = checkDataDir(bundledDataDir());
  assert.equal(r.source, '--data-dir');
  assert.ok(r.commands.every((c) => c.ready), JSON.stringify(r.commands));
  const rows = Object.fromEntries(r.splits.filter((s) => s.present).map((s) => [s.id, s.rows]));
  assert.deepEqual(rows, {
    'sst2/train': 3000, 'sst2/dev': 872, 'sms-spam/all': 1500, 'ag-news/test': 400, 'ag-news/train': 600, 'wikitext/valid+test': 1662,
  });
  assert.ok(r.splits.every((s) => !s.error));
});

test('data check: exit 0 when ready, 1 with what is missing, 2 without a directory', () => {
  const ok = spawnSync(process.execPath, [BIN, 'data', 'check', '--data-dir', bundledDataDir(), '--json'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).dir, bundledDataDir());
  const empty = tmpDir('data-empty');
  mkdirSync(join(empty, 'sst2'));
  const missing = spawnSync(process.execPath, [BIN, 'data', 'check', '--data-dir', empty], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stdout, /MISSING finetune --task sst2 \(needs sst2\/train, sst2\/dev\)/);
  const none = spawnSync(process.execPath, [BIN, 'data', 'check', '--data-dir', join(empty, 'nope')], { encoding: 'utf8' });
  assert.equal(none.status, 2);
  assert.match(none.stderr.trim(), /^lmsanitator: data directory .*nope \(from --data-dir\) does not exist$/);
});
