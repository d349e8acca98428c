/**
 * Resumable attacks, the way pretraining resumes: every N steps (and on
 * Ctrl-C) the trainable weights, Adam's moments and the step go to
 * <out>/checkpoint/; `--resume` loads them and continues. The state file
 * is written last and atomically, so a kill during a save leaves the
 * previous checkpoint valid. A journal (<out>/journal.jsonl) records the
 * settings, progress and checkpoints for a human or a script.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Adam, Tensor } from '../engine/index.js';
import { writeFileAtomic, writeAll } from '../formats/file-io.js';
import { loadSafetensors, saveSafetensors } from '../formats/safetensors.js';
import type { StateDict } from '../formats/state-dict.js';

export const CHECKPOINT_DIR = 'checkpoint';
export const JOURNAL_FILE = 'journal.jsonl';

export interface CheckpointState {
  version: 1;
  settingsHash: string;
  step: number;
  totalSteps: number;
  saved: string;
  /** Training seconds so far (a resumed run reports the total). */
  seconds: number;
}

export function checkpointDir(outDir: string): string {
  return join(outDir, CHECKPOINT_DIR);
}

export function hasCheckpoint(outDir: string): boolean {
  return existsSync(join(checkpointDir(outDir), 'state.json'));
}

export function saveCheckpoint(outDir: string, params: Map<string, Tensor>, adam: Adam, state: CheckpointState): void {
  const dir = checkpointDir(outDir);
  mkdirSync(dir, { recursive: true });
  const weights: StateDict = new Map();
  for (const [n, t] of params) weights.set(n, { shape: [...t.shape], data: t.data as Float32Array });
  saveSafetensors(join(dir, 'weights.safetensors'), weights);
  const st = adam.state();
  const opt: StateDict = new Map();
  st.m.forEach((m, i) => {
    opt.set(`m.${i}`, { shape: [m.length], data: m });
    opt.set(`v.${i}`, { shape: [m.length], data: st.v[i] });
  });
  saveSafetensors(join(dir, 'optimizer.safetensors'), opt, { step: String(st.step) });
  writeFileAtomic(join(dir, 'state.json'), (fd) => writeAll(fd, Buffer.from(`${JSON.stringify(state, null, 2)}\n`)));
}

/** Loads the checkpoint into params and adam; returns the step to continue from. */
export function loadCheckpoint(outDir: string, params: Map<string, Tensor>, adam: Adam, settingsHash: string): CheckpointState {
  const dir = checkpointDir(outDir);
  if (!hasCheckpoint(outDir)) throw new Error(`${outDir}: no checkpoint to resume from`);
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as CheckpointState;
  if (state.version !== 1 || !Number.isInteger(state.step)) throw new Error(`${dir}/state.json: not an attack checkpoint`);
  if (state.settingsHash !== settingsHash) {
    throw new Error(`${outDir}: the checkpoint was made with other settings, model or data; rerun with the original options or choose another --out`);
  }
  const weights = loadSafetensors(join(dir, 'weights.safetensors')).tensors;
  for (const [n, t] of params) {
    const w = weights.get(n);
    if (!w || w.data.length !== t.size) throw new Error(`${dir}: checkpoint lacks or mis-sizes parameter ${n}`);
    t.data.set(w.data);
  }
  const { tensors, metadata } = loadSafetensors(join(dir, 'optimizer.safetensors'));
  const n = params.size;
  const m: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const mi = tensors.get(`m.${i}`);
    const vi = tensors.get(`v.${i}`);
    if (!mi || !vi) throw new Error(`${dir}: optimizer state lacks parameter ${i}`);
    m.push(Float32Array.from(mi.data));
    v.push(Float32Array.from(vi.data));
  }
  adam.loadState({ step: Number(metadata.step), m, v });
  return state;
}

export function removeCheckpoint(outDir: string): void {
  rmSync(checkpointDir(outDir), { recursive: true, force: true });
}

export function appendJournal(outDir: string, entry: Record<string, unknown>): void {
  appendFileSync(join(outDir, JOURNAL_FILE), `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
}
