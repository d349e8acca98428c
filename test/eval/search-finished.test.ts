import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { searchFinished } from '../../src/eval/scan-model.js';
import { PVSET_FILE, REPORT_JSON_FILE } from '../../src/eval/scan-outputs.js';

// eval guard and eval paper both ask this one question before reading a search's PVs.
test('a search counts as finished only with its PV set and a report that does not say interrupted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lms-finished-'));
  try {
    assert.equal(searchFinished(dir), false, 'empty directory');
    writeFileSync(join(dir, PVSET_FILE), 'x');
    assert.equal(searchFinished(dir), false, 'a PV set without its report');
    writeFileSync(join(dir, REPORT_JSON_FILE), JSON.stringify({ interrupted: true }));
    assert.equal(searchFinished(dir), false, 'an interrupted search');
    writeFileSync(join(dir, REPORT_JSON_FILE), '{"interr');
    assert.equal(searchFinished(dir), false, 'an unreadable report');
    writeFileSync(join(dir, REPORT_JSON_FILE), JSON.stringify({ interrupted: false }));
    assert.equal(searchFinished(dir), true);
    rmSync(join(dir, PVSET_FILE));
    assert.equal(searchFinished(dir), false, 'a report without its PV set');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
