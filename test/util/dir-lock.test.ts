/** One writer per working directory: a live holder is refused, a stale lock is taken over, a failed first run leaves no directory. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOCK_FILE, withDirLock } from '../../src/util/dir-lock.js';
import { tmpDir } from '../helpers/tmp.js';

test('dir lock: refuses a directory a live process holds, takes over a dead one\'s, cleans up', async () => {
  const dir = join(tmpDir('lock'), 'run');
  assert.equal(withDirLock(dir, 'scan', () => existsSync(join(dir, LOCK_FILE))), true, 'held while running');
  assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'released after');
  assert.equal(existsSync(dir), false, 'a directory this call created and left empty is removed');

  mkdirSync(dir, { recursive: true });
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
  try {
    writeFileSync(join(dir, LOCK_FILE), `${sleeper.pid} ${(await import('node:os')).hostname()}\n`);
    assert.throws(() => withDirLock(dir, 'search', () => 1), new RegExp(`another search is running there \\(pid ${sleeper.pid}\\)`));
  } finally {
    sleeper.kill('SIGKILL');
  }
  await new Promise((r) => sleeper.once('exit', r));
  assert.equal(withDirLock(dir, 'search', () => 2), 2, 'the dead holder\'s lock is taken over');
  assert.throws(() => withDirLock(dir, 'scan', () => { throw new Error('boom'); }), /boom/);
  assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'released on an error too');
});
