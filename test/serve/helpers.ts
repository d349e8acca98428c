/**
 * Fixtures for the server tests: the tiny random BERT of the prompt tests
 * saved as a model directory, P-tuning v2 prompts on it (SST-2 and RTE,
 * untrained), and a PV set whose PVs are the monitored hidden states of the
 * TRIGGERED inputs (so those are flagged with rate 1, whatever the random
 * weights), plus the in-process guard over the same files, to compare the
 * server's answers with.
 */
import { metricValue } from '../../src/serve/metrics.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Guard, monitorFor, type GuardResult } from '../../src/guard/guard.js';
import { type SelfCheck, selfCheck } from '../../src/guard/self-check.js';
import { loadModel, saveModel } from '../../src/models/model.js';
import { createPromptModel, loadPrompt, predictBatch, type PromptInput, type PromptModel, savePrompt } from '../../src/prompt/index.js';
import { loadPvSet, savePvSet } from '../../src/sanitizer/pvset.js';
import { type Server, type ServeOptions, startServer } from '../../src/serve/server.js';
import { promptModel, tmpDir } from '../prompt/helpers.js';

export { tmpDir };

/** Inputs whose own hidden states are the PVs: flagged. */
export const TRIGGERED = ['the film was the good one cf', 'a gorgeous film cf , with no end in sight'];
export const CLEAN = ['a gorgeous film', 'dull and long , with no end in sight', 'it was fine', 'the film was long'];

export interface Fixture {
  root: string;
  modelDir: string;
  /** name → prompt directory */
  prompts: Record<'sst2' | 'rte', string>;
  pvs: string;
  maxTokens: number;
  /** The guard on the same files, in this process. */
  guard: (prompt: 'sst2' | 'rte', inputs: PromptInput[]) => GuardResult[];
  /** The guard's self-check, in this process. */
  selfCheck: (prompt: 'sst2' | 'rte') => SelfCheck;
}

let cache: Fixture | null = null;

/** The monitored hidden state (first token, prompt in place) of each input. */
function monitored(model: PromptModel, inputs: PromptInput[]): Float32Array[] {
  const H = model.backbone.config.hiddenSize;
  const out: Float32Array[] = new Array(inputs.length);
  predictBatch(model, inputs, {
    batchSize: 64,
    onBatch: (_b, f, index) => index.forEach((j, r) => (out[j] = Float32Array.from((f.hidden.data as Float32Array).subarray(r * H, (r + 1) * H)))),
  });
  return out;
}

export function serveFixture(): Fixture {
  if (cache) return cache;
  const root = tmpDir('serve');
  const modelDir = join(root, 'backbone');
  saveModel(modelDir, promptModel({ seed: 11, initStd: 1.0, hidden: 64 }));
  const backbone = loadModel(modelDir);
  const prompts = { sst2: join(root, 'sst2'), rte: join(root, 'rte') };
  savePrompt(prompts.sst2, createPromptModel(backbone, { method: 'ptuning-v2', task: 'sst2', prefixLen: 4, maxLen: 64, seed: 1 }));
  savePrompt(prompts.rte, createPromptModel(backbone, { method: 'ptuning-v2', task: 'rte', prefixLen: 4, maxLen: 64, seed: 2 }));
  const sst2 = loadPrompt(prompts.sst2, backbone).model;
  const rte = loadPrompt(prompts.rte, backbone).model;
  const H = backbone.config.hiddenSize;
  const pvs = join(root, 'pvset.safetensors');
  const vectors = monitored(sst2, TRIGGERED.map((text) => ({ text })));
  savePvSet(pvs, {
    modelHash: backbone.hash, modelDir, mode: 'cls', hidden: H, promptLen: 1, embedDim: H, hyperParameters: {}, command: 'search',
    created: new Date().toISOString(), toolVersion: 'test', pvs: vectors, prompts: vectors.map(() => new Float32Array(H)), seeds: vectors.map((_, i) => i + 1),
  });
  const set = loadPvSet(pvs);
  const guards = { sst2: new Guard(sst2, monitorFor(sst2, set, pvs)), rte: new Guard(rte, monitorFor(rte, set, pvs)) };
  cache = { root, modelDir, prompts, pvs, maxTokens: sst2.maxLen, guard: (p, inputs) => guards[p].run(inputs), selfCheck: (p) => selfCheck(guards[p]) };
  return cache;
}

/** A server on the fixture, on an ephemeral port, both prompts; log lines collected instead of printed. */
export async function fixtureServer(o: Partial<ServeOptions> = {}): Promise<{ server: Server; f: Fixture; logs: string[]; post: (body: unknown, headers?: Record<string, string>) => Promise<Response> }> {
  const f = serveFixture();
  const logs: string[] = [];
  const server = await startServer({
    modelDir: f.modelDir, prompts: [{ name: 'sst2', dir: f.prompts.sst2 }, { name: 'rte', dir: f.prompts.rte }], pvs: [f.pvs], port: 0,
    log: (l) => logs.push(l), ...o,
  });
  await server.ready;
  const post = (body: unknown, headers: Record<string, string> = {}) => fetch(`${server.url}/v1/classify`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' || body instanceof Uint8Array ? (body as BodyInit) : JSON.stringify(body),
  });
  return { server, f, logs, post };
}

/** The server's results against the in-process guard's: the same keys in the same order, the same decisions, numbers to 1e-5. */
export function sameResults(got: GuardResult[], want: GuardResult[], what: string): void {
  assert.equal(got.length, want.length, `${what}: one result per input`);
  got.forEach((g, i) => {
    const w = want[i]!;
    assert.deepEqual(Object.keys(g), Object.keys(w), `${what} #${i}: keys`);
    for (const k of Object.keys(w) as (keyof GuardResult)[]) {
      const a = g[k];
      const b = w[k];
      if (typeof b === 'number' || (Array.isArray(b) && typeof b[0] === 'number')) {
        const xs = ([] as unknown[]).concat(a).map(Number);
        const ys = ([] as unknown[]).concat(b).map(Number);
        assert.equal(xs.length, ys.length, `${what} #${i}: ${k}`);
        xs.forEach((x, j) => assert.ok(Math.abs(x - ys[j]!) <= 1e-5, `${what} #${i}: ${k}[${j}] ${x} vs ${ys[j]}`));
      } else {
        assert.deepEqual(a, b, `${what} #${i}: ${k}`);
      }
    }
  });
}


/** One metric's value from Prometheus text (src/serve/metrics.ts). */
export const metric = metricValue;
