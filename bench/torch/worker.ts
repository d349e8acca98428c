/**
 * Side-by-side PyTorch runs for the benchmarks' `--torch` flag (benchmarks
 * only; no test depends on PyTorch). The interpreter is Debian's
 * /usr/bin/python3 with python3-torch (LMS_TORCH_PYTHON overrides it). A
 * script under bench/torch/ loads what the TS bench wrote to a temp dir,
 * prints one JSON line when ready, then answers one JSON command a line on
 * stdin — so each side runs only while the other waits, and the two can be
 * timed back to back in rotating order in one run. LMS_TORCH_KEEP=1 keeps
 * the temp dir (its path is printed) to rerun a script by hand.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const TORCH_PYTHON = process.env.LMS_TORCH_PYTHON ?? '/usr/bin/python3';

/** The bench/torch directory of the source tree (the .py scripts are not compiled into dist/). */
export function torchScript(name: string): string {
  // dist/bench/torch/worker.js → <root>/bench/torch/name
  const here = dirname(fileURLToPath(import.meta.url));
  const root = here.includes(`${join('dist', 'bench')}`) ? join(here, '..', '..', '..') : join(here, '..', '..');
  return join(root, 'bench', 'torch', name);
}

/** null when torch imports, else the reason (one line) it does not. */
export function torchUnavailable(): string | null {
  const r = spawnSync(TORCH_PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error) return `${TORCH_PYTHON} cannot be run (${r.error.message})`;
  if (r.status !== 0) return `${TORCH_PYTHON} has no torch (install Debian's python3-torch)`;
  return null;
}

/** A temp dir for the batches; removed by the returned function. */
export function scratchDir(tag: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `lms-torch-${tag}-`));
  // LMS_TORCH_KEEP=1 keeps the batches (to rerun a torch script by hand).
  return { dir, remove: () => (process.env.LMS_TORCH_KEEP === '1' ? process.stderr.write(`kept ${dir}\n`) : rmSync(dir, { recursive: true, force: true })) };
}

export function writeTyped(dir: string, name: string, a: Int32Array | Float32Array): void {
  writeFileSync(join(dir, `${name}.bin`), Buffer.from(a.buffer, a.byteOffset, a.byteLength));
}

export class TorchWorker {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly pending: ((line: string) => void)[] = [];
  private readonly queued: string[] = [];
  private stderr = '';
  private exited: string | null = null;
  ready: Record<string, unknown> = {};

  private constructor(script: string, args: string[], env: Record<string, string>) {
    this.child = spawn(TORCH_PYTHON, [script, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d) => (this.stderr = (this.stderr + String(d)).slice(-4000)));
    this.lines = createInterface({ input: this.child.stdout });
    this.lines.on('line', (l) => {
      const p = this.pending.shift();
      if (p) p(l);
      else this.queued.push(l);
    });
    this.child.on('exit', (code, sig) => {
      this.exited = `exited (${code ?? sig})`;
      for (const p of this.pending.splice(0)) p('');
    });
  }

  /**
   * Starts `script` with `args`; OpenBLAS and OpenMP get `threads` threads
   * (the TS side's count). Resolves when it has printed its ready line.
   * OMP_WAIT_POLICY=PASSIVE (unless set): with GOMP's default spin-waiting,
   * two OpenMP threads plus OpenBLAS's on two cores that other jobs also
   * use made a bert-mini step ~10× slower (4.3 s instead of 0.43 s);
   * passive waiting is PyTorch's best setting on a shared machine.
   */
  static async start(script: string, args: string[], threads: number): Promise<TorchWorker> {
    const w = new TorchWorker(script, args, {
      OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads),
      OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE',
    });
    w.ready = await w.next();
    return w;
  }

  private next(): Promise<Record<string, unknown>> {
    const q = this.queued.shift();
    const parse = (l: string): Record<string, unknown> => {
      if (!l) throw new Error(`torch worker ${this.exited ?? 'closed its output'}: ${this.stderr.trim().split('\n').slice(-5).join(' | ')}`);
      return JSON.parse(l) as Record<string, unknown>;
    };
    if (q !== undefined) return Promise.resolve(parse(q));
    if (this.exited) return Promise.reject(new Error(`torch worker ${this.exited}: ${this.stderr.trim().split('\n').slice(-5).join(' | ')}`));
    return new Promise((resolve, reject) => {
      this.pending.push((l) => {
        try {
          resolve(parse(l));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /** Sends one command and waits for its answer. */
  async call(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
    return this.next();
  }

  async close(): Promise<void> {
    if (!this.exited) {
      this.child.stdin.write(`${JSON.stringify({ cmd: 'quit' })}\n`);
      this.child.stdin.end();
      await new Promise<void>((resolve) => (this.exited ? resolve() : this.child.once('exit', () => resolve())));
    }
  }
}

export interface SideBySide {
  /** Seconds of each timed step, per side, in step order. */
  lms: number[];
  torch: number[];
  /** Per round: torch seconds / lms seconds on the same steps (> 1: lmsanitator faster). */
  ratios: number[];
  rounds: number;
  /** Σ torch seconds / Σ lms seconds over every timed step. */
  totalRatio: number;
}

/**
 * Times `ours(i)` and the worker's step i for every i in `steps`, in rounds
 * of `round` steps: each round runs both sides on the same steps back to
 * back, and the side that goes first alternates. `warm` steps run first on
 * both sides, untimed.
 */
export async function sideBySide(worker: TorchWorker, steps: number[], round: number, warm: number[], ours: (i: number) => void): Promise<SideBySide> {
  const timeOurs = (idx: number[]) => idx.map((i) => {
    const t0 = process.hrtime.bigint();
    ours(i);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  });
  const timeTheirs = async (idx: number[]) => (await worker.call({ cmd: 'run', steps: idx })).seconds as number[];
  timeOurs(warm);
  await timeTheirs(warm);
  const r: SideBySide = { lms: [], torch: [], ratios: [], rounds: 0, totalRatio: NaN };
  const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
  for (let s = 0; s < steps.length; s += round, r.rounds++) {
    const idx = steps.slice(s, s + round);
    let a: number[], b: number[];
    if (r.rounds % 2 === 0) {
      a = timeOurs(idx);
      b = await timeTheirs(idx);
    } else {
      b = await timeTheirs(idx);
      a = timeOurs(idx);
    }
    r.lms.push(...a);
    r.torch.push(...b);
    r.ratios.push(sum(b) / sum(a));
  }
  r.totalRatio = sum(r.torch) / sum(r.lms);
  return r;
}
