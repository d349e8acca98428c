/**
 * The results database's schema, as Kysely migrations: one schema for
 * SQLite and PostgreSQL (the column types below are spelled so that both
 * accept them). A migration, once released, is never edited: a change is a
 * new entry, applied in name order by every process that opens the store.
 *
 * fleet_jobs holds one row per job, i.e. per distinct set of weights
 * (job_id is the sha256; see job.ts); fleet_models maps every submitted
 * path to its job, so a model submitted under two paths has two result
 * lines and one scan.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';

const m001: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createTable('fleet_jobs')
      .addColumn('job_id', 'text', (c) => c.primaryKey())
      .addColumn('sha256', 'text')
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('modes', 'text', (c) => c.notNull())
      .addColumn('loops', 'integer', (c) => c.notNull())
      .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
      // queued | active | done | failed
      .addColumn('status', 'text', (c) => c.notNull())
      // clean | backdoored | error (null until finished)
      .addColumn('verdict', 'text')
      .addColumn('score', 'double precision')
      .addColumn('pv_count', 'integer')
      .addColumn('loops_run', 'integer')
      .addColumn('worker', 'text')
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('error', 'text')
      // JSON: per mode verdict, score, loops, PVs' nearest tokens, timings and report paths
      .addColumn('detail', 'text')
      .addColumn('enqueued_at', 'bigint', (c) => c.notNull())
      .addColumn('started_at', 'bigint')
      .addColumn('finished_at', 'bigint')
      .addColumn('scan_seconds', 'double precision')
      .execute();
    await db.schema.createIndex('fleet_jobs_sha256').on('fleet_jobs').column('sha256').execute();
    await db.schema.createIndex('fleet_jobs_status').on('fleet_jobs').column('status').execute();
    await db.schema.createTable('fleet_models')
      .addColumn('model', 'text', (c) => c.primaryKey())
      .addColumn('job_id', 'text', (c) => c.notNull().references('fleet_jobs.job_id'))
      .addColumn('submitted_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('fleet_models_job_id').on('fleet_models').column('job_id').execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('fleet_models').execute();
    await db.schema.dropTable('fleet_jobs').execute();
  },
};

export const MIGRATIONS: Record<string, Migration> = {
  '001_fleet_jobs': m001,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
