/**
 * Training checkpoints: parameters and Adam moments in one safetensors
 * file (written atomically, so a kill mid-save leaves the previous one),
 * with the step and run identity in its metadata.
 */
import { existsSync } from 'node:fs';
import type { Tensor } from '../engine/index.js';
import type { Adam } from '../engine/optim.js';
import { loadSafetensors, saveSafetensors } from '../formats/safetensors.js';
import type { StateDict } from '../formats/state-dict.js';

export interface CheckpointMeta {
  step: number;
  /** Identifies the run (config + seed + data); a resume must match it. */
  runId: string;
  [k: string]: string | number;
}

export function saveCheckpoint(file: string, params: Map<string, Tensor>, opt: Adam, meta: CheckpointMeta): void {
  const sd: StateDict = new Map();
  const names = [...params.keys()];
  const state = opt.state();
  names.forEach((n, i) => {
    const t = params.get(n)!;
    sd.set(`param/${n}`, { shape: [...t.shape], data: t.data as Float32Array });
    sd.set(`adam.m/${n}`, { shape: [...t.shape], data: state.m[i] });
    sd.set(`adam.v/${n}`, { shape: [...t.shape], data: state.v[i] });
  });
  const metadata: Record<string, string> = { adam_step: String(state.step) };
  for (const [k, v] of Object.entries(meta)) metadata[k] = String(v);
  saveSafetensors(file, sd, metadata);
}

/** Restores parameters and optimizer state in place; returns the saved step. */
export function loadCheckpoint(file: string, params: Map<string, Tensor>, opt: Adam, runId: string): number {
  if (!existsSync(file)) throw new Error(`${file}: no checkpoint to resume from`);
  const { tensors, metadata } = loadSafetensors(file);
  if (metadata.runId !== runId) {
    throw new Error(`${file} belongs to another run (${metadata.runId}); this run is ${runId}. Remove it or change --out`);
  }
  const m: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (const [n, t] of params) {
    const p = tensors.get(`param/${n}`);
    const pm = tensors.get(`adam.m/${n}`);
    const pv = tensors.get(`adam.v/${n}`);
    if (!p || !pm || !pv || p.data.length !== t.size) throw new Error(`${file}: missing or mis-shaped state for "${n}"`);
    (t.data as Float32Array).set(p.data as Float32Array);
    m.push(pm.data as Float32Array);
    v.push(pv.data as Float32Array);
  }
  opt.loadState({ step: Number(metadata.adam_step), m, v });
  return Number(metadata.step);
}
