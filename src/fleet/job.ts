/**
 * What one fleet scan job is: the model directory, the target modes, the
 * loop budget and the few scan settings a submitter may set, with the
 * bounds a worker checks before it trusts a job it took off a shared queue
 * (anyone who can write to the queue can put anything there).
 *
 * A job is keyed by the sha256 of the model's weights (modelHash), so the
 * same model submitted twice — under two paths, or twice over — is one job
 * and is scanned once. A directory the submitter could not hash is keyed
 * by its path instead and still queued: the workers may see another file
 * system, and otherwise they report the error.
 */
import { createHash } from 'node:crypto';
import { TARGET_MODES, type TargetMode } from '../sanitizer/target.js';

export const DEFAULT_QUEUE = 'lmsanitator-scan';
/** BullMQ job name of a scan (one kind of job per queue today). */
export const SCAN_JOB = 'scan';

export const LIMITS = {
  /** Longest model path a job may carry (Linux PATH_MAX). */
  pathChars: 4096,
  /** Loops per mode; the paper's detection uses 30, a search 1,000. */
  maxLoops: 100_000,
  /** A job's data serialised; a real one is a few hundred bytes. */
  jobBytes: 16 * 1024,
  /** Error text kept per job (the one line a failed job shows). */
  errorChars: 500,
  /** Models one `fleet submit` call accepts (a backlog is several calls). */
  modelsPerSubmit: 100_000,
} as const;

/** Settings passed through to scan() (see ScanOptions); all optional. */
export interface JobScanSettings {
  sentencesFile?: string;
  sentenceCount?: number;
  batchSize?: number;
  epochs?: number;
  seed?: number;
}

export interface ScanJobData {
  /** Shape version: a worker refuses a job of a shape it does not know. */
  v: 1;
  /** Absolute path of the model directory, as the workers will open it. */
  model: string;
  /** modelHash() as the submitter computed it; null when it could not read the weights. */
  sha256: string | null;
  modes: TargetMode[];
  loops: number;
  scan: JobScanSettings;
  /** Milliseconds since the epoch, when the submitter queued it. */
  enqueuedAt: number;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** The queue's job id: the weights' sha256, or a path-keyed id for a model that could not be hashed. */
export function jobIdFor(sha256: string | null, model: string): string {
  if (sha256) return sha256;
  return `unhashed-${createHash('sha256').update(model).digest('hex').slice(0, 32)}`;
}

/** Error text as a job stores it: one line, bounded. */
export function oneLineError(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const line = text.replace(/\s*\n\s*/g, ' ').trim() || 'unknown error';
  return line.length > LIMITS.errorChars ? `${line.slice(0, LIMITS.errorChars - 1)}…` : line;
}

const bad = (what: string) => new Error(`malformed job: ${what}`);

function optInt(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`${name} must be an integer in [${min}, ${max}]`);
  return v;
}

/**
 * Checks a job taken off the queue and returns it with only the known
 * fields (a worker runs nothing it did not check). Throws a one-line error.
 */
export function checkJobData(raw: unknown): ScanJobData {
  if (JSON.stringify(raw ?? null).length > LIMITS.jobBytes) throw bad(`over ${LIMITS.jobBytes} bytes`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('not an object');
  const o = raw as Record<string, unknown>;
  if (o.v !== 1) throw bad(`unknown version ${JSON.stringify(o.v)}; this worker reads version 1 (upgrade the worker)`);
  if (typeof o.model !== 'string' || o.model.length === 0 || o.model.length > LIMITS.pathChars || o.model.includes('\0')) {
    throw bad(`model must be a path of 1–${LIMITS.pathChars} characters`);
  }
  if (!o.model.startsWith('/')) throw bad('model must be an absolute path');
  if (o.sha256 !== null && (typeof o.sha256 !== 'string' || !SHA256.test(o.sha256))) throw bad('sha256 must be 64 hex digits or null');
  if (!Array.isArray(o.modes) || o.modes.length === 0 || o.modes.length > TARGET_MODES.length) throw bad('modes must be a non-empty list');
  const modes = o.modes.map((m) => {
    if (!TARGET_MODES.includes(m as TargetMode)) throw bad(`mode ${JSON.stringify(m)} is not one of ${TARGET_MODES.join(', ')}`);
    return m as TargetMode;
  });
  if (new Set(modes).size !== modes.length) throw bad('modes repeat');
  const loops = optInt(o.loops, 'loops', 1, LIMITS.maxLoops);
  if (loops === undefined) throw bad('loops is missing');
  const s = (o.scan ?? {}) as Record<string, unknown>;
  if (typeof s !== 'object' || Array.isArray(s)) throw bad('scan must be an object');
  const scan: JobScanSettings = {};
  if (s.sentencesFile !== undefined) {
    if (typeof s.sentencesFile !== 'string' || !s.sentencesFile.startsWith('/') || s.sentencesFile.length > LIMITS.pathChars || s.sentencesFile.includes('\0')) {
      throw bad('scan.sentencesFile must be an absolute path');
    }
    scan.sentencesFile = s.sentencesFile;
  }
  scan.sentenceCount = optInt(s.sentenceCount, 'scan.sentenceCount', 1, 1_000_000);
  scan.batchSize = optInt(s.batchSize, 'scan.batchSize', 2, 4096);
  scan.epochs = optInt(s.epochs, 'scan.epochs', 1, 100);
  scan.seed = optInt(s.seed, 'scan.seed', 0, 2 ** 31 - 1);
  for (const k of Object.keys(scan) as (keyof JobScanSettings)[]) if (scan[k] === undefined) delete scan[k];
  const enqueuedAt = typeof o.enqueuedAt === 'number' && Number.isFinite(o.enqueuedAt) ? o.enqueuedAt : 0;
  return { v: 1, model: o.model, sha256: (o.sha256 as string | null), modes, loops, scan, enqueuedAt };
}
