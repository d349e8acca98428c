/**
 * The inference worker of `lmsanitator serve` (a worker_threads thread): it
 * owns the native engine. It loads the backbone, every prompt and the PV
 * sets itself from the directories it is given (no tensor crosses
 * threads), then runs batches: for each request's share of a batch it
 * checks that no input is longer than the prompt model reads (422 for
 * that request, the rest of the batch runs), runs each prompt's guard once
 * over all of that prompt's inputs in the batch, appends one audit line
 * per flagged input (one write and one fsync per batch, before the results
 * go back: a response means its audit lines are on disk), and posts the
 * results. An input that makes the guard throw fails its own request only
 * (the batch is rerun request by request); any other error fails the batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Guard, monitorFor, requiredMode, type GuardResult } from '../guard/guard.js';
import { selfCheck } from '../guard/self-check.js';
import { loadModel } from '../models/model.js';
import { isPairTask } from '../prompt/tasks.js';
import type { PromptModel } from '../prompt/index.js';
import { loadPvSet, type PvSet } from '../sanitizer/pvset.js';
import { splitWords } from '../text/words.js';
import { openPrompt } from '../cli/prompt-io.js';
import { auditRecord, appendAudit, openAuditLog, type AuditRecord } from './audit.js';
import type { BatchGroup, EngineConfig, EngineInfo, FromWorker, GroupOutcome, RequestError, ToWorker } from './types.js';
import { oneLine } from './types.js';

interface Loaded {
  guards: Map<string, Guard>;
  info: EngineInfo;
}

const post = (m: FromWorker) => parentPort!.postMessage(m);

/** Picks, for each prompt, the PV set in the mode it is monitored in. */
function pvSetFor(model: PromptModel, sets: { file: string; set: PvSet }[], promptName: string): { file: string; set: PvSet } {
  const want = requiredMode(model);
  if (sets.length === 1) return sets[0]!; // monitorFor names the mismatch and the scan to run
  const same = sets.filter((s) => s.set.mode === want);
  if (same.length === 1) return same[0]!;
  if (same.length === 0) throw new Error(`prompt "${promptName}" is monitored in ${want} mode, and no --pvs file is (${sets.map((s) => `${s.file}: ${s.set.mode}`).join(', ')})`);
  throw new Error(`prompt "${promptName}": several --pvs files are in ${want} mode (${same.map((s) => s.file).join(', ')}); give one per mode`);
}

function load(cfg: EngineConfig): Loaded {
  if (cfg.auditLog) openAuditLog(cfg.auditLog);
  const backbone = loadModel(cfg.modelDir);
  const sets = cfg.pvs.map((file) => ({ file, set: loadPvSet(file) }));
  const guards = new Map<string, Guard>();
  const prompts: EngineInfo['prompts'] = [];
  for (const p of cfg.prompts) {
    let model: PromptModel;
    try {
      model = openPrompt(p.dir, backbone);
    } catch (e) {
      throw new Error(`prompt "${p.name}" (${p.dir}): ${(e as Error).message}`);
    }
    const { file, set } = pvSetFor(model, sets, p.name);
    const monitor = monitorFor(model, set, file, cfg.threshold);
    const guard = new Guard(model, monitor, {
      threshold: cfg.threshold, maxWindow: cfg.maxWindow, onUnpurified: cfg.onUnpurified, monitor: cfg.monitor, batchSize: cfg.forwardBatch,
    });
    guards.set(p.name, guard);
    prompts.push({
      name: p.name, method: model.method, task: model.task, kind: model.kind, labels: [...model.labelNames], max_tokens: model.maxLen,
      pair: model.kind !== 'ner' && isPairTask(model.task), pvs: monitor.count, self_check: selfCheck(guard),
    });
  }
  return { guards, info: { prompts, modelHash: backbone.hash, threshold: cfg.threshold } };
}

/** The first input the model would truncate (the guard would then judge a text the user did not send), as a 422. */
function tooLong(model: PromptModel, g: BatchGroup): RequestError | null {
  for (let i = 0; i < g.inputs.length; i++) {
    const x = g.inputs[i]!;
    const row = model.kind === 'ner' ? model.encode({ tokens: splitWords(x.text) }) : model.encode({ text: x.text, textB: x.text_pair });
    if (row.truncated) {
      const at = g.offset + i;
      return {
        status: 422, code: 'text_too_long', index: at,
        message: `inputs[${at}] is longer than the ${model.maxLen} tokens this prompt model reads${x.text_pair === undefined ? '' : ' (text and text_pair together)'}; shorten it or split it`,
      };
    }
  }
  return null;
}

function runBatch(l: Loaded, cfg: EngineConfig, groups: BatchGroup[]): { outcomes: GroupOutcome[]; rows: number; auditLines: number } {
  const outcomes: GroupOutcome[] = new Array(groups.length);
  // Each prompt's guard runs once over all of its inputs in the batch.
  const byPrompt = new Map<string, number[]>();
  groups.forEach((g, k) => {
    const guard = l.guards.get(g.prompt);
    if (!guard) {
      outcomes[k] = { error: { status: 404, code: 'unknown_prompt', message: `no prompt named "${g.prompt}"` } };
      return;
    }
    const err = tooLong(guard.model, g);
    if (err) {
      outcomes[k] = { error: err };
      return;
    }
    const list = byPrompt.get(g.prompt) ?? [];
    list.push(k);
    byPrompt.set(g.prompt, list);
  });
  let rows = 0;
  const audit: AuditRecord[] = [];
  const time = new Date().toISOString();
  const take = (name: string, k: number, mine: GuardResult[]) => {
    const g = groups[k]!;
    outcomes[k] = { results: mine };
    mine.forEach((r, i) => {
      if (r.triggered) audit.push(auditRecord(time, g.requestId, name, g.offset + i, r));
    });
  };
  for (const [name, ks] of byPrompt) {
    const guard = l.guards.get(name)!;
    const inputs = ks.flatMap((k) => groups[k]!.inputs);
    rows += inputs.length;
    let results: GuardResult[];
    try {
      results = guard.run(inputs);
    } catch {
      // Some request's input broke the batch: run each request alone, so that only that one fails.
      for (const k of ks) {
        try {
          take(name, k, guard.run(groups[k]!.inputs));
        } catch (e) {
          outcomes[k] = { error: { status: 500, code: 'inference_failed', message: `inference failed: ${oneLine((e as Error).message)}` } };
        }
      }
      continue;
    }
    let at = 0;
    for (const k of ks) {
      take(name, k, results.slice(at, at + groups[k]!.inputs.length));
      at += groups[k]!.inputs.length;
    }
  }
  if (cfg.auditLog && audit.length) appendAudit(cfg.auditLog, audit);
  return { outcomes, rows, auditLines: audit.length };
}

function main(): void {
  const cfg = workerData as EngineConfig;
  let loaded: Loaded;
  try {
    loaded = load(cfg);
  } catch (e) {
    post({ type: 'fatal', message: oneLine(e instanceof Error ? e.message : String(e)) });
    return;
  }
  parentPort!.on('message', (m: ToWorker) => {
    if (m.type !== 'batch') return;
    const t0 = process.hrtime.bigint();
    try {
      const r = runBatch(loaded, cfg, m.groups);
      post({ type: 'done', id: m.id, ...r, seconds: Number(process.hrtime.bigint() - t0) / 1e9 });
    } catch (e) {
      post({ type: 'failed', id: m.id, message: oneLine(e instanceof Error ? e.message : String(e)) });
    }
  });
  post({ type: 'ready', info: loaded.info });
}

main();
