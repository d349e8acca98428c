/**
 * The results database: SQLite (better-sqlite3, a file under the work
 * directory) by default, PostgreSQL when given a postgres:// URL — one
 * schema (migrations.ts) behind Kysely, so every query below runs on both.
 *
 * SQLite suits one machine (several worker processes share the file in WAL
 * mode); a fleet on many machines wants PostgreSQL, as SQLite over a
 * network file system is not safe.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { type Generated, Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { migrationProvider } from './migrations.js';
import type { ScanJobData } from './job.js';

export type JobStatus = 'queued' | 'active' | 'done' | 'failed';
export type Verdict = 'clean' | 'backdoored' | 'error';

export interface JobRow {
  job_id: string;
  sha256: string | null;
  model: string;
  modes: string;
  loops: number;
  priority: number;
  status: JobStatus;
  verdict: Verdict | null;
  score: number | null;
  pv_count: number | null;
  loops_run: number | null;
  worker: string | null;
  attempts: number;
  error: string | null;
  detail: string | null;
  enqueued_at: number;
  started_at: number | null;
  finished_at: number | null;
  scan_seconds: number | null;
}

interface Tables {
  fleet_jobs: Omit<JobRow, 'priority' | 'attempts'> & { priority: Generated<number>; attempts: Generated<number> };
  fleet_models: { model: string; job_id: string; submitted_at: number };
}

/** One line of `fleet results --json` (a contract: these keys, these verdicts). */
export interface ResultLine {
  model: string;
  sha256: string | null;
  verdict: Verdict;
  score: number | null;
  worker: string | null;
  attempts: number;
  error?: string;
}

/** What a worker records when a job's scans are done. */
export interface Finished {
  verdict: 'clean' | 'backdoored';
  sha256: string;
  score: number;
  pvCount: number;
  loopsRun: number;
  worker: string;
  attempts: number;
  detail: unknown;
  finishedAt: number;
  scanSeconds: number;
}

export const DEFAULT_DB_FILE = 'fleet.sqlite';

const isPostgres = (db: string) => /^postgres(ql)?:\/\//.test(db);

/** Where the store is, for messages (a URL's password is not shown). */
export function describeDb(db: string): string {
  return isPostgres(db) ? db.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@') : db;
}

// PostgreSQL returns int8 as a string (it may exceed 2^53); ours are millisecond timestamps.
pg.types.setTypeParser(20, (v: string) => Number(v));

export class Store {
  private constructor(private readonly db: Kysely<Tables>, readonly where: string) {}

  /** Opens (creating and migrating) the database `db` (a file path or postgres:// URL), default `<workDir>/fleet.sqlite`. */
  static async open(o: { db?: string; workDir: string }): Promise<Store> {
    const spec = o.db ?? join(o.workDir, DEFAULT_DB_FILE);
    let db: Kysely<Tables>;
    if (isPostgres(spec)) {
      db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: spec, max: 4 }) }) });
    } else {
      const file = resolve(spec);
      mkdirSync(dirname(file), { recursive: true });
      let sqlite: Database.Database;
      try {
        sqlite = new Database(file);
      } catch (e) {
        throw new Error(`cannot open the results database ${file}: ${(e as Error).message}`);
      }
      // Several worker processes write to one file: WAL lets readers run beside the
      // writer, and a writer waits for the lock instead of failing at once.
      sqlite.pragma('busy_timeout = 15000');
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('foreign_keys = ON');
      db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: sqlite }) });
    }
    const store = new Store(db, describeDb(spec));
    try {
      await store.migrate();
    } catch (e) {
      await db.destroy();
      throw new Error(`results database ${store.where}: ${(e as Error).message}`);
    }
    return store;
  }

  private async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: migrationProvider });
    // Two processes starting together may both try to migrate a fresh SQLite
    // file; the loser's transaction is refused (SQLITE_BUSY), and a retry
    // finds the migrations applied. PostgreSQL takes Kysely's advisory lock.
    for (let attempt = 0; ; attempt++) {
      const { error, results } = await migrator.migrateToLatest();
      if (!error) return;
      const busy = /SQLITE_BUSY|database is locked|already exists/i.test(String((error as Error).message ?? error));
      if (!busy || attempt >= 5) {
        const failed = results?.find((r) => r.status === 'Error');
        throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`);
      }
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 200));
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async job(jobId: string): Promise<JobRow | undefined> {
    return this.db.selectFrom('fleet_jobs').selectAll().where('job_id', '=', jobId).executeTakeFirst() as Promise<JobRow | undefined>;
  }

  async jobs(): Promise<JobRow[]> {
    return this.db.selectFrom('fleet_jobs').selectAll().orderBy('enqueued_at').orderBy('job_id').execute() as Promise<JobRow[]>;
  }

  /**
   * Records a submitted path and its job (a new job row only if the job is
   * new). Returns the job's row as it stands after the call.
   */
  async submit(s: { jobId: string; path: string; data: ScanJobData; priority: number }): Promise<JobRow> {
    const now = s.data.enqueuedAt;
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('fleet_jobs').values({
        job_id: s.jobId, sha256: s.data.sha256, model: s.data.model, modes: s.data.modes.join(','), loops: s.data.loops, priority: s.priority,
        status: 'queued', verdict: null, score: null, pv_count: null, loops_run: null, worker: null, error: null, detail: null,
        enqueued_at: now, started_at: null, finished_at: null, scan_seconds: null,
      }).onConflict((oc) => oc.column('job_id').doNothing()).execute();
      await tx.insertInto('fleet_models').values({ model: s.path, job_id: s.jobId, submitted_at: now })
        .onConflict((oc) => oc.column('model').doUpdateSet({ job_id: s.jobId, submitted_at: now })).execute();
    });
    return (await this.job(s.jobId))!;
  }

  /** A worker took the job (the row is created if the submitter's insert was lost). */
  async started(jobId: string, data: ScanJobData, worker: string, attempts: number, startedAt: number): Promise<void> {
    await this.db.insertInto('fleet_jobs').values({
      job_id: jobId, sha256: data.sha256, model: data.model, modes: data.modes.join(','), loops: data.loops,
      status: 'active', verdict: null, score: null, pv_count: null, loops_run: null, worker, attempts, error: null, detail: null,
      enqueued_at: data.enqueuedAt, started_at: startedAt, finished_at: null, scan_seconds: null,
    }).onConflict((oc) => oc.column('job_id').doUpdateSet({ status: 'active', worker, attempts, started_at: startedAt, error: null }))
      .execute();
    await this.db.insertInto('fleet_models').values({ model: data.model, job_id: jobId, submitted_at: data.enqueuedAt })
      .onConflict((oc) => oc.column('model').doNothing()).execute();
  }

  async finished(jobId: string, f: Finished): Promise<void> {
    await this.db.updateTable('fleet_jobs').set({
      status: 'done', verdict: f.verdict, sha256: f.sha256, score: f.score, pv_count: f.pvCount, loops_run: f.loopsRun, worker: f.worker,
      attempts: f.attempts, error: null, detail: JSON.stringify(f.detail), finished_at: f.finishedAt, scan_seconds: f.scanSeconds,
    }).where('job_id', '=', jobId).execute();
  }

  /** A stopped attempt put the job back on the queue (worker shutdown). */
  async requeued(jobId: string): Promise<void> {
    await this.db.updateTable('fleet_jobs').set({ status: 'queued' }).where('job_id', '=', jobId).where('status', '=', 'active').execute();
  }

  /** The job failed for good (no retry left, or an input no retry can fix). */
  async failed(jobId: string, f: { error: string; worker: string | null; attempts: number; finishedAt: number }, data?: ScanJobData): Promise<void> {
    const r = await this.db.updateTable('fleet_jobs').set({
      status: 'failed', verdict: 'error', error: f.error, worker: f.worker, attempts: f.attempts, finished_at: f.finishedAt,
    }).where('job_id', '=', jobId).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0 && data) {
      await this.started(jobId, data, f.worker ?? '', f.attempts, f.finishedAt);
      await this.failed(jobId, f);
    }
  }

  /** Every submitted path whose job has finished, in submission order. */
  async results(): Promise<ResultLine[]> {
    const rows = await this.db.selectFrom('fleet_models as m').innerJoin('fleet_jobs as j', 'j.job_id', 'm.job_id')
      .select(['m.model', 'j.sha256', 'j.verdict', 'j.score', 'j.worker', 'j.attempts', 'j.error'])
      .where('j.status', 'in', ['done', 'failed'])
      .orderBy('m.submitted_at').orderBy('m.model')
      .execute();
    return rows.map((r) => {
      const line: ResultLine = {
        model: r.model, sha256: r.sha256, verdict: (r.verdict ?? 'error') as Verdict, score: r.score, worker: r.worker, attempts: r.attempts,
      };
      if (line.verdict === 'error') line.error = r.error ?? 'unknown error';
      return line;
    });
  }

  /** Jobs per status. */
  async counts(): Promise<Record<JobStatus, number>> {
    const rows = await this.db.selectFrom('fleet_jobs').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
    const out: Record<JobStatus, number> = { queued: 0, active: 0, done: 0, failed: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  }
}
