/**
 * Runs model loads in child processes (child.ts) with a time limit per load
 * and a heap cap, so a test of "this used to hang / eat all memory" fails
 * instead of stalling or killing the test runner. Many loads share one child
 * (starting Node costs ~150 ms); after a hang or a crash the child is
 * replaced and the remaining loads go on.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Answer, Job } from './child.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'child.js');

export interface Result extends Partial<Answer> {
  job: Omit<Job, 'id'>;
  /** The load ran past its time limit and the child was killed. */
  hung?: boolean;
  /** The child died during the load (e.g. out of memory); its stderr tail. */
  crashed?: string;
}

export interface IsolationLimits {
  /** Per load (default 10 s). */
  timeoutMs?: number;
  /** --max-old-space-size of the children (default 512). */
  heapMb?: number;
}

export async function loadIsolated(jobs: Omit<Job, 'id'>[], limits: IsolationLimits = {}): Promise<Result[]> {
  const results: Result[] = jobs.map((job) => ({ job }));
  let next = 0;
  while (next < jobs.length) next = await runChild(jobs, results, next, limits);
  return results;
}

/** Runs jobs from `start` in one child until they are done or it dies; returns the first job not answered. */
function runChild(jobs: Omit<Job, 'id'>[], results: Result[], start: number, limits: IsolationLimits): Promise<number> {
  const timeoutMs = limits.timeoutMs ?? 10_000;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${limits.heapMb ?? 512}`, CHILD], {
      env: { ...process.env, LMS_SECURITY_CHILD: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // Writes to a child that was killed fail with EPIPE; the exit handler reports it.
    child.stdin.on('error', () => {});
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let pending = start; // the job being loaded now
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        results[pending]!.hung = true;
        finish(pending + 1);
        child.kill('SIGKILL');
      }, timeoutMs);
    };
    const finish = (resume: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(resume);
    };
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const a = JSON.parse(line) as Answer;
      Object.assign(results[a.id]!, a);
      pending = a.id + 1;
      if (pending >= jobs.length) {
        finish(pending);
        child.stdin.end();
      } else {
        arm();
      }
    });
    child.on('exit', () => {
      if (settled) return;
      if (pending < jobs.length) results[pending]!.crashed = stderr.trim().split('\n').slice(-3).join(' | ') || 'exited';
      finish(pending + 1);
    });
    arm();
    for (let i = start; i < jobs.length; i++) child.stdin.write(`${JSON.stringify({ ...jobs[i], id: i })}\n`);
  });
}
