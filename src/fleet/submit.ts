/**
 * Submitting models: hash each directory's weights, skip what is already
 * queued or scanned (the same weights are one job), record every path in
 * the results database, and hand the new jobs to a sink — the Redis queue
 * (queue.ts) or the in-process runner (local.ts).
 */
import { resolve } from 'node:path';
import { modelHash } from '../formats/checkpoint.js';
import type { TargetMode } from '../sanitizer/target.js';
import { jobIdFor, type JobScanSettings, LIMITS, oneLineError, type ScanJobData } from './job.js';
import type { Store } from './store.js';

export interface SubmitOptions {
  modes: TargetMode[];
  loops: number;
  /** BullMQ priority: 1 is the highest; undefined = none (plain FIFO, ahead of prioritised jobs). */
  priority?: number;
  scan: JobScanSettings;
}

export interface JobSink {
  add(jobId: string, data: ScanJobData, o: { priority?: number }): Promise<void>;
}

export interface SubmitOutcome {
  model: string;
  sha256: string | null;
  job: string;
  /** queued: a new job (or one re-sent to the queue); duplicate: same weights as an earlier path of this call; known: scanned already. */
  status: 'queued' | 'duplicate' | 'known';
  verdict?: string | null;
  /** Why the weights could not be hashed here (the job is queued; the workers report the error). */
  note?: string;
}

export async function submitModels(paths: readonly string[], o: SubmitOptions, store: Store, sink: JobSink): Promise<SubmitOutcome[]> {
  if (paths.length > LIMITS.modelsPerSubmit) throw new Error(`${paths.length} models in one submit; at most ${LIMITS.modelsPerSubmit} (split the list)`);
  const out: SubmitOutcome[] = [];
  const thisCall = new Set<string>();
  for (const p of paths) {
    const model = resolve(p);
    if (model.length > LIMITS.pathChars) throw new Error(`${p.slice(0, 80)}…: path longer than ${LIMITS.pathChars} characters`);
    let sha256: string | null = null;
    let note: string | undefined;
    try {
      sha256 = modelHash(model);
    } catch (e) {
      note = oneLineError(e);
    }
    const job = jobIdFor(sha256, model);
    const data: ScanJobData = { v: 1, model, sha256, modes: o.modes, loops: o.loops, scan: o.scan, enqueuedAt: Date.now() };
    const before = await store.job(job);
    const row = await store.submit({ jobId: job, path: model, data, priority: o.priority ?? 0 });
    if (thisCall.has(job)) {
      out.push({ model, sha256, job, status: 'duplicate' });
      continue;
    }
    thisCall.add(job);
    if (before && (before.status === 'done' || before.status === 'failed')) {
      out.push({ model, sha256, job, status: 'known', verdict: row.verdict });
      continue;
    }
    // A job the database lists as queued or active is sent again: the queue
    // ignores a job id it holds, and re-creates one it lost (a Redis without
    // persistence restarted, or a submit that died between the two writes).
    await sink.add(job, before ? { ...data, enqueuedAt: before.enqueued_at } : data, { priority: o.priority });
    out.push({ model, sha256, job, status: 'queued', ...(note ? { note } : {}) });
  }
  return out;
}
