/**
 * What P-tuning and P-tuning v2 models share, so that training, prediction,
 * the artefact and the guard treat them alike: a frozen backbone, a few
 * trained tensors, an encoder from examples to token rows, and one forward
 * that returns the logits together with the backbone output they were
 * read from (the vector a guard monitors, at no extra forward):
 *   P-tuning          the last hidden state at the mask token   [B, H]
 *   P-tuning v2       the last hidden state at the first token  [B, H]
 *   P-tuning v2 NER   the last hidden state at every token      [B, T, H]
 */
import type { Tensor } from '../engine/index.js';
import type { EncoderConfig } from '../formats/hf-config.js';
import type { LoadedModel } from '../models/model.js';
import type { ReparamInfo } from './reparam.js';
import type { PromptTask, TaskKind } from './tasks.js';
import { padBatch } from '../train/batching.js';

export type PromptMethod = 'ptuning' | 'ptuning-v2';
export const PROMPT_METHODS: readonly PromptMethod[] = ['ptuning', 'ptuning-v2'];

/** An input as a user gives it (prediction); `text_pair` for RTE and BoolQ (see TEMPLATES for which field is which). */
export interface PromptInput {
  text: string;
  text_pair?: string;
}

/** A training or evaluation example: text classification, or a tagged sentence (tags as label indices). */
export type PromptExample = { text: string; textB?: string; label?: number } | { tokens: readonly string[]; tags?: readonly number[] };

/** One tokenised example. */
export interface PromptRow {
  ids: number[];
  typeIds: number[];
  /** P-tuning: the token index of each prompt row, in row order. */
  promptAt?: number[];
  /** P-tuning: the mask token's index. */
  maskAt?: number;
  /** NER: the token index of each word's first piece; −1 where truncation removed the word. */
  wordStarts?: number[];
  /** Classification label. */
  label?: number;
  /** NER: the tag of each token, −100 where not scored (special tokens, later pieces of a word). */
  tokenLabels?: number[];
  truncated: boolean;
}

/** Rows padded to the longest. */
export interface PromptBatch {
  B: number;
  T: number;
  ids: Int32Array;
  mask: Float32Array;
  typeIds: Int32Array;
  rows: readonly PromptRow[];
}

export interface PromptForward {
  /** [B, labels], or [B·T, tags] for NER. */
  logits: Tensor;
  /** The backbone output the logits were read from (see the module comment). */
  hidden: Tensor;
}

/** What prompt.json says about the prompt itself. */
export interface PromptInfo {
  /** P-tuning: the template (with `<sep>`), as TEMPLATES writes it. */
  template?: string;
  /** P-tuning: one word per label, and the ids they map to. */
  verbalizer?: readonly string[];
  verbalizerIds?: readonly number[];
  /** P-tuning: prompt rows per `<p>`. */
  rowsPerPlaceholder?: number;
  /** P-tuning v2: prefix rows per layer. */
  prefixLength?: number;
  /** PEFT's num_virtual_tokens: prompt rows (P-tuning) or prefix rows (P-tuning v2). */
  numVirtualTokens: number;
  /** The reparameterisation used in training (folded into the saved rows), or null. */
  reparam: ReparamInfo | null;
  /** What the head reads. */
  head: string;
  /** Problems accepted with a note (split verbalizer words). */
  warnings: string[];
}

export interface PromptModel {
  readonly method: PromptMethod;
  readonly task: PromptTask;
  readonly kind: TaskKind;
  readonly labelNames: readonly string[];
  readonly backbone: LoadedModel;
  /** Longest token row the model encodes (prefix rows excluded). */
  readonly maxLen: number;
  readonly info: PromptInfo;
  /** The tensors training updates (the reparameterisation network's, while there is one). */
  trainable(): Map<string, Tensor>;
  /** The tensors the artefact stores: prompt_embeddings (folded) and the task head, if any. */
  saved(): Map<string, Tensor>;
  /** Replaces a reparameterisation network by the rows it produces (after training). */
  fold(): void;
  encode(e: PromptExample): PromptRow;
  /** Dropout (prefix, head and backbone) only with `dropoutSeed`. */
  forward(b: PromptBatch, o?: { dropoutSeed?: number }): PromptForward;
}

export function padRows(rows: readonly PromptRow[], padId: number): PromptBatch {
  const { B, T, ids, mask, typeIds } = padBatch(rows.map((r) => r.ids), padId, { typeIds: rows.map((r) => r.typeIds) });
  return { B, T, ids, mask, typeIds, rows };
}

/** The backbone's shape as prompt.json records it and loadPrompt compares it. */
export interface BackboneShape {
  model_type: string;
  layers: number;
  hidden: number;
  heads: number;
  vocab: number;
}

export function backboneShape(c: EncoderConfig): BackboneShape {
  return { model_type: c.modelType, layers: c.numHiddenLayers, hidden: c.hiddenSize, heads: c.numAttentionHeads, vocab: c.vocabSize };
}

export function shapeText(s: BackboneShape): string {
  return `${s.model_type} ${s.layers} layers × hidden ${s.hidden}, ${s.heads} heads, vocab ${s.vocab}`;
}

/** Freezes the backbone (encoder and MLM head): no weight gradient is ever computed for it. */
export function freezeBackbone(m: LoadedModel): void {
  m.encoder.setTrainable(false);
  for (const head of [m.mlm, m.sequenceClassifier, m.tokenClassifier]) if (head) for (const t of head.params.values()) t.requiresGrad = false;
}

/** Every backbone tensor, for the no-gradient check. */
export function backboneTensors(m: LoadedModel): Tensor[] {
  const out = [...m.encoder.params.values()];
  for (const head of [m.mlm, m.sequenceClassifier, m.tokenClassifier]) if (head) out.push(...head.params.values());
  return out;
}
