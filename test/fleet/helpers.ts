/**
 * Fixtures for the fleet tests: a redis-server of the test's own (on a
 * free port, in a temporary directory, restartable), worker and submit
 * processes of the real CLI, and a few tiny random BERTs with a sentence
 * file small enough that one fuzz loop takes well under a second.
 *
 * The tests skip, saying why, when redis-server is not installed
 * (scripts/setup installs it). .ci/run starts one Redis for the tests that
 * only need a queue (LMS_TEST_REDIS_URL); the fault tests, which kill and
 * restart Redis, always start their own.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { buildMicroModel, tmpDir } from '../attacks/helpers.js';

export { tmpDir };

export const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'lmsanitator.js');

/** Why the fleet tests cannot run here, or null. */
export function noRedis(): string | null {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'redis-server is not installed (scripts/setup installs it: apt-get install redis-server)';
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value or `ms` pass (then throws naming `what`). */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, ms = 60_000, every = 100): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

export interface TestRedis {
  url: string;
  port: number;
  /** SIGTERM (Redis writes its append-only file and exits) or SIGKILL, then wait for exit. */
  stop: (signal?: NodeJS.Signals) => Promise<void>;
  /** Starts it again on the same port and directory. */
  start: () => Promise<void>;
  client: () => Redis;
}

/** A redis-server of this test's own; `appendonly` makes it keep its data across a restart. */
export async function startRedis(o: { appendonly: boolean }): Promise<TestRedis> {
  const port = await freePort();
  const dir = tmpDir('redis');
  let proc: ChildProcess | null = null;
  const start = async () => {
    proc = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', o.appendonly ? 'yes' : 'no',
      '--appendfsync', 'always', '--dir', dir, '--daemonize', 'no',
    ], { stdio: 'ignore' });
    await waitFor('redis-server to answer', async () => {
      const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      c.on('error', () => {});
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        c.disconnect();
      }
    }, 10_000, 50);
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  };
  await start();
  process.on('exit', () => {
    const p = proc as ChildProcess | null;
    if (p && p.exitCode === null) p.kill('SIGKILL');
  });
  return { url: `redis://127.0.0.1:${port}`, port, stop, start, client: () => new Redis({ port, host: '127.0.0.1' }) };
}

/**
 * A Redis for tests that never restart it: the one .ci/run started
 * (LMS_TEST_REDIS_URL; each test uses a queue name of its own), else one of
 * the test's own.
 */
export async function sharedRedis(): Promise<{ url: string; stop: () => Promise<void>; client: () => Redis }> {
  const url = process.env.LMS_TEST_REDIS_URL;
  if (url) return { url, stop: async () => {}, client: () => new Redis(url) };
  return startRedis({ appendonly: false });
}

/** A queue name no earlier run on a shared Redis used. */
export const uniqueQueue = (name: string) => `${name}-${process.pid}-${Date.now().toString(36)}`;

export interface Proc {
  child: ChildProcess;
  /** Everything it wrote to stderr so far. */
  log: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
}

const running: ChildProcess[] = [];
/** SIGKILLs every CLI process a test started and left running (a failed assertion skips its own cleanup). */
export function killAll(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killAll);

/** The CLI as a child process (env: a cache of the test's own). */
export function spawnCli(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let err = '';
  let out = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, log: () => err, stdout: () => out, exited };
}

export function runCli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface FleetModels {
  /** Distinct random micro BERTs (distinct weights). */
  dirs: string[];
  /** 64 sentences of the models' vocabulary: one loop is a few batches. */
  sentences: string;
}

let models: FleetModels | null = null;

export function fleetModels(): FleetModels {
  if (models) return models;
  const dirs = [1, 2, 3].map((seed) => buildMicroModel({ hidden: 32, seed, sentences: 64 }));
  const sentences = join(tmpDir('fleet-sentences'), 'sentences.txt');
  writeFileSync(sentences, dirs[0]!.sentences.join('\n') + '\n');
  models = { dirs: dirs.map((d) => d.dir), sentences };
  return models;
}

/** Scan settings every fleet test passes: tiny and quick. */
export function scanArgs(m: FleetModels, loops: number): string[] {
  return ['--loops', String(loops), '--sentences', m.sentences, '--count', '64', '--batch', '16', '--epochs', '2'];
}
