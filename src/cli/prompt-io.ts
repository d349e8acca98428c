/**
 * What the prompt commands (predict, guard, eval prompt) read alike: a
 * prompt directory in either layout, and inputs from --text or a JSONL file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkJsonStructure } from '../formats/json-guard.js';
import { readWholeFile } from '../formats/file-io.js';
import type { LoadedModel } from '../models/model.js';
import { ADAPTER_CONFIG, loadPeft, loadPrompt, PROMPT_JSON, type PromptInput, type PromptModel } from '../prompt/index.js';

/** predict --input: at most this much JSONL, and this much per line. */
const MAX_INPUT_BYTES = 256 * 2 ** 20;
const MAX_LINE_CHARS = 1 << 20;

/** A prompt directory in either layout: ours (prompt.json) or PEFT's (adapter_config.json). */
export function openPrompt(dir: string, backbone: LoadedModel, task?: string): PromptModel {
  const peft = !existsSync(join(dir, PROMPT_JSON)) && existsSync(join(dir, ADAPTER_CONFIG));
  const loaded = peft ? loadPeft(dir, backbone, { task }) : loadPrompt(dir, backbone);
  if (loaded.warning) process.stderr.write(`lmsanitator: warning: ${loaded.warning}\n`);
  return loaded.model;
}

/** One JSONL line → an input, or the reason it is skipped. */
export function parseInputLine(line: string): PromptInput | string {
  if (line.length > MAX_LINE_CHARS) return `longer than ${MAX_LINE_CHARS} characters`;
  const problem = checkJsonStructure(line, 2);
  if (problem) return problem;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return 'not valid JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (typeof o.text !== 'string') return '"text" must be a string';
  if (o.text_pair !== undefined && typeof o.text_pair !== 'string') return '"text_pair" must be a string';
  return o.text_pair === undefined ? { text: o.text } : { text: o.text, text_pair: o.text_pair as string };
}

/** The inputs of --text [--text-pair] or --input FILE (bad lines reported on stderr with their number, and skipped). */
export function readPromptInputs(o: { text?: string; textPair?: string; input?: string }): PromptInput[] {
  if ((o.text === undefined) === (o.input === undefined)) throw new Error('give exactly one of --text and --input');
  if (o.textPair !== undefined && o.text === undefined) throw new Error('--text-pair goes with --text');
  if (o.text !== undefined) return [o.textPair === undefined ? { text: o.text } : { text: o.text, text_pair: o.textPair }];
  const inputs: PromptInput[] = [];
  const lines = readWholeFile(o.input!, MAX_INPUT_BYTES).toString('utf8').split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const r = parseInputLine(line);
    if (typeof r === 'string') process.stderr.write(`lmsanitator: ${o.input}:${i + 1}: skipped: ${r}\n`);
    else inputs.push(r);
  });
  return inputs;
}

