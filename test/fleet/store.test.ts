/**
 * The results database: one schema on SQLite and PostgreSQL. SQLite always
 * runs; PostgreSQL runs when LMS_TEST_POSTGRES_URL names a database the
 * test may fill (e.g. postgres://user:pass@127.0.0.1:5432/lms_test).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { ScanJobData } from '../../src/fleet/job.js';
import { Store } from '../../src/fleet/store.js';
import { tmpDir } from '../helpers/tmp.js';

const PG = process.env.LMS_TEST_POSTGRES_URL;

const data = (model: string, sha: string | null): ScanJobData => ({ v: 1, model, sha256: sha, modes: ['cls'], loops: 3, scan: {}, enqueuedAt: Date.now() });
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

async function contract(store: Store): Promise<void> {
  const a = data('/models/a', SHA_A);
  await store.submit({ jobId: SHA_A, path: '/models/a', data: a, priority: 0 });
  await store.submit({ jobId: SHA_A, path: '/models/a-copy', data: { ...a, enqueuedAt: a.enqueuedAt + 1 }, priority: 0 });
  await store.submit({ jobId: SHA_B, path: '/models/b', data: { ...data('/models/b', SHA_B), enqueuedAt: a.enqueuedAt + 2 }, priority: 5 });
  assert.deepEqual(await store.counts(), { queued: 2, active: 0, done: 0, failed: 0 });
  assert.deepEqual(await store.results(), [], 'nothing finished yet');

  await store.started(SHA_A, a, 'host:1', 1, a.enqueuedAt + 10);
  assert.equal((await store.job(SHA_A))!.status, 'active');
  await store.finished(SHA_A, {
    verdict: 'backdoored', sha256: SHA_A, score: 2.5, pvCount: 1, loopsRun: 3, worker: 'host:1', attempts: 1,
    detail: { modes: [{ mode: 'cls' }] }, finishedAt: a.enqueuedAt + 20, scanSeconds: 1.5,
  });
  await store.started(SHA_B, data('/models/b', SHA_B), 'host:2', 3, a.enqueuedAt + 30);
  await store.failed(SHA_B, { error: '/models/b: no such model directory', worker: 'host:2', attempts: 3, finishedAt: a.enqueuedAt + 40 });
  // A job failed before any row existed (a forged job, or one whose submit record was lost) gets its row from the job data.
  const lost = data('/models/lost', null);
  await store.failed('unhashed-x', { error: 'malformed model', worker: 'host:3', attempts: 1, finishedAt: a.enqueuedAt + 50 }, { ...lost, enqueuedAt: a.enqueuedAt + 3 });

  assert.deepEqual(await store.results(), [
    { model: '/models/a', sha256: SHA_A, verdict: 'backdoored', score: 2.5, worker: 'host:1', attempts: 1 },
    { model: '/models/a-copy', sha256: SHA_A, verdict: 'backdoored', score: 2.5, worker: 'host:1', attempts: 1 },
    { model: '/models/b', sha256: SHA_B, verdict: 'error', score: null, worker: 'host:2', attempts: 3, error: '/models/b: no such model directory' },
    { model: '/models/lost', sha256: null, verdict: 'error', score: null, worker: 'host:3', attempts: 1, error: 'malformed model' },
  ]);
  assert.deepEqual(await store.counts(), { queued: 0, active: 0, done: 1, failed: 2 });
  const row = (await store.job(SHA_A))!;
  assert.equal(typeof row.enqueued_at, 'number', 'timestamps come back as numbers on both databases');
  assert.equal(row.started_at! - row.enqueued_at, 10);
  assert.deepEqual(JSON.parse(row.detail!), { modes: [{ mode: 'cls' }] });
  await store.requeued(SHA_A);
  assert.equal((await store.job(SHA_A))!.status, 'done', 'only an active job is put back');
}

test('SQLite: the schema migrates once, holds the result contract and indexes the model hash', async () => {
  const workDir = tmpDir('fleet-store');
  const store = await Store.open({ workDir });
  await contract(store);
  await store.close();
  const again = await Store.open({ workDir });
  assert.equal((await again.results()).length, 4, 'reopening keeps the rows and runs no migration twice');
  await again.close();
  const db = new Database(join(workDir, 'fleet.sqlite'), { readonly: true });
  const indexes = db.prepare("select name from sqlite_master where type = 'index' and tbl_name like 'fleet_%'").all().map((r) => (r as { name: string }).name);
  const migrations = db.prepare('select name from kysely_migration').all().map((r) => (r as { name: string }).name);
  db.close();
  assert.ok(indexes.includes('fleet_jobs_sha256'), indexes.join(', '));
  assert.ok(indexes.includes('fleet_models_job_id'));
  assert.deepEqual(migrations, ['001_fleet_jobs']);
});

test('SQLite: four processes opening a fresh database at once all get it migrated', { timeout: 60_000 }, async () => {
  const workDir = tmpDir('fleet-store-race');
  const url = new URL('../../src/fleet/store.js', import.meta.url).href;
  const script = `const { Store } = await import(${JSON.stringify(url)}); const s = await Store.open({ workDir: ${JSON.stringify(workDir)} }); console.log(JSON.stringify(await s.counts())); await s.close();`;
  const runs = await Promise.all(Array.from({ length: 4 }, () => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', (code) => resolve({ code, out, err }));
  })));
  for (const r of runs) {
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), { queued: 0, active: 0, done: 0, failed: 0 });
  }
});

test('SQLite: an unusable database path is one clear error', async () => {
  const dir = tmpDir('fleet-store-bad');
  await assert.rejects(Store.open({ workDir: dir, db: dir }), /cannot open the results database/);
});

test('PostgreSQL: the same contract (LMS_TEST_POSTGRES_URL)', { skip: PG ? false : 'set LMS_TEST_POSTGRES_URL to a scratch PostgreSQL database to run this' }, async () => {
  const client = new pg.Client({ connectionString: PG });
  await client.connect();
  await client.query('drop table if exists fleet_models, fleet_jobs, kysely_migration, kysely_migration_lock');
  await client.end();
  const store = await Store.open({ workDir: tmpDir('fleet-pg'), db: PG });
  try {
    await contract(store);
  } finally {
    await store.close();
  }
  const again = await Store.open({ workDir: tmpDir('fleet-pg'), db: PG });
  assert.equal((await again.results()).length, 4);
  await again.close();
  const check = new pg.Client({ connectionString: PG });
  await check.connect();
  const idx = await check.query("select indexname from pg_indexes where tablename in ('fleet_jobs', 'fleet_models')");
  await check.end();
  assert.ok(idx.rows.some((r: { indexname: string }) => r.indexname === 'fleet_jobs_sha256'));
});
