/**
 * P-tuning (Liu et al., "GPT understands, too"): trainable continuous
 * prompt rows spliced into a text template in place of the word
 * embeddings at its `<p>` slots; the frozen backbone's MLM head scores the
 * verbalizer's label words at the mask token, and those logits are the
 * class logits. Nothing but the prompt rows trains.
 *
 * Only the label words' rows of the tied decoder are computed (C of them,
 * not the vocabulary): the same numbers as the full MLM logits restricted
 * to those columns, which is what the softmax over label words needs.
 */
import { gatherRows, linear, reshape, spliceRows, Tensor } from '../engine/index.js';
import { backboneOf } from '../models/backbone.js';
import type { LoadedModel } from '../models/model.js';
import { Rng } from '../text/random.js';
import {
  type PromptBatch, type PromptExample, type PromptForward, type PromptInfo, type PromptModel, type PromptRow, } from './model.js';
import { foldRows, mlpRows, plainRows, type PromptRows } from './reparam.js';
import { isPromptTask, type PromptTask, taskLabelNames } from './tasks.js';
import {
  encodeTemplate, parseTemplate, promptPlaceholders, TEMPLATES, type TemplatePart, type TemplateSpec, type Verbalizer, verbalizerIds,
} from './templates.js';
import { usablePositions } from '../formats/hf-config.js';

export interface PTuningOptions {
  task: PromptTask;
  /** Default: TEMPLATES[task]. */
  template?: TemplateSpec;
  /** Prompt rows per `<p>` (default 1, as appendix H writes the templates). */
  rowsPerPlaceholder?: number;
  /** Train the rows through PEFT's MLP prompt encoder with this hidden size. */
  reparamHidden?: number;
  maxLen: number;
  seed: number;
}

export class PTuningModel implements PromptModel {
  readonly method = 'ptuning' as const;
  readonly kind = 'classification' as const;
  readonly labelNames: readonly string[];
  readonly maxLen: number;
  readonly info: PromptInfo;
  private readonly parts: TemplatePart[];
  private readonly verbalizer: Verbalizer;
  private readonly fieldsOf: TemplateSpec['fields'];

  constructor(
    readonly backbone: LoadedModel, readonly task: PromptTask, readonly template: TemplateSpec, private rows: PromptRows,
    readonly rowsPerPlaceholder: number, maxLen: number,
  ) {
    if (!isPromptTask(task) || task === 'conll04') throw new Error(`P-tuning classifies text; task "${task}" is not one of its tasks`);
    const tok = backbone.tokenizer;
    if (!tok) throw new Error(`${backbone.dir ?? 'backbone'}: P-tuning needs the backbone's tokenizer`);
    if (!backbone.mlm) throw new Error(`${backbone.dir ?? 'backbone'}: P-tuning reads the MLM head at the mask token, and this checkpoint has none (cls.predictions.* / lm_head.*)`);
    if (tok.specialIds.mask < 0) throw new Error(`${backbone.dir ?? 'backbone'}: the tokenizer has no mask token`);
    this.labelNames = taskLabelNames(task);
    if (template.verbalizer.length !== this.labelNames.length) {
      throw new Error(`${task}: the verbalizer has ${template.verbalizer.length} words for ${this.labelNames.length} labels`);
    }
    this.parts = parseTemplate(template);
    this.fieldsOf = template.fields;
    const P = promptPlaceholders(this.parts) * rowsPerPlaceholder;
    // Prompt rows live in word-embedding space: E wide (= H except for ELECTRA and ALBERT).
    const E = backbone.config.embeddingSize;
    if (rows.shape[0] !== P || rows.shape[1] !== E) {
      throw new Error(`P-tuning ${task}: prompt rows are [${rows.shape.join(', ')}], the template needs [${P}, ${E}]`);
    }
    this.verbalizer = verbalizerIds(tok, template.verbalizer);
    this.maxLen = Math.min(maxLen, usablePositions(backbone.config));
    this.info = {
      template: template.template,
      verbalizer: template.verbalizer,
      verbalizerIds: this.verbalizer.ids,
      rowsPerPlaceholder,
      numVirtualTokens: P,
      reparam: rows.reparam,
      head: 'the backbone MLM head at <mask>, restricted to the verbalizer words',
      warnings: [...this.verbalizer.warnings],
    };
  }

  /**
   * Fresh prompt rows: copies of the word embeddings of randomly drawn
   * ordinary vocabulary tokens (so they start where real inputs live), or
   * PEFT's MLP encoder at its default initialisation.
   */
  static create(backbone: LoadedModel, o: PTuningOptions): PTuningModel {
    const template = o.template ?? TEMPLATES[o.task];
    if (!template) throw new Error(`P-tuning has no template for task "${o.task}"`);
    const per = o.rowsPerPlaceholder ?? 1;
    const P = promptPlaceholders(parseTemplate(template)) * per;
    const E = backbone.config.embeddingSize;
    let rows: PromptRows;
    if (o.reparamHidden !== undefined) {
      rows = mlpRows(P, E, o.reparamHidden, `${o.seed}:ptuning:mlp`);
    } else {
      const tok = backbone.tokenizer;
      const words = backbone.encoder.wordEmbeddings;
      const rng = new Rng(`${o.seed}:ptuning:init`);
      const init = new Float32Array(P * E);
      for (let p = 0; p < P; p++) {
        let id = rng.int(words.shape[0]!);
        for (let tries = 0; tok && tok.isSpecialOrUnused(id) && tries < 100; tries++) id = rng.int(words.shape[0]!);
        init.set(words.data.subarray(id * E, (id + 1) * E), p * E);
      }
      rows = plainRows(new Tensor(init, [P, E]));
    }
    return new PTuningModel(backbone, o.task, template, rows, per, o.maxLen);
  }

  trainable(): Map<string, Tensor> {
    return this.rows.params;
  }

  saved(): Map<string, Tensor> {
    return new Map([['prompt_embeddings', this.rows.reparam ? foldRows(this.rows) : this.rows.params.get('prompt_embeddings')!]]);
  }

  /** info.reparam keeps saying how the rows were trained. */
  fold(): void {
    if (this.rows.reparam) this.rows = plainRows(foldRows(this.rows));
  }

  encode(e: PromptExample): PromptRow {
    if (!('text' in e)) throw new Error('P-tuning encodes text examples, not tagged sentences');
    const values: Record<string, string> = {};
    for (const [name, field] of Object.entries(this.fieldsOf)) values[name] = (field === 'text' ? e.text : e.textB) ?? '';
    const enc = encodeTemplate(this.backbone.tokenizer!, this.parts, values, { maxLength: this.maxLen, rowsPerPlaceholder: this.rowsPerPlaceholder });
    return { ids: enc.ids, typeIds: enc.typeIds, promptAt: enc.promptAt, maskAt: enc.maskAt, label: e.label, truncated: enc.truncated };
  }

  forward(b: PromptBatch, o: { dropoutSeed?: number } = {}): PromptForward {
    const enc = this.backbone.encoder;
    const E = enc.embeddingWidth;
    const dst: number[] = [];
    const src: number[] = [];
    b.rows.forEach((r, i) => r.promptAt!.forEach((t, k) => {
      dst.push(i * b.T + t);
      src.push(k);
    }));
    const words = reshape(enc.embedIds(b.ids, b.B, b.T), [b.B * b.T, E]);
    const embeds = reshape(spliceRows(words, Int32Array.from(dst), this.rows.rows(), Int32Array.from(src)), [b.B, b.T, E]);
    const out = backboneOf(enc).forward({
      batch: b.B, seqLen: b.T, ids: b.ids, mask: b.mask, tokenTypes: b.typeIds, embeds,
      positions: Int32Array.from(b.rows, (r) => r.maskAt!), dropoutSeed: o.dropoutSeed,
    });
    return { logits: this.labelWordLogits(out.hidden), hidden: out.hidden };
  }

  /** The MLM head on hidden [B, H], only at the label words' vocabulary rows → [B, C]. */
  private labelWordLogits(h: Tensor): Tensor {
    const m = this.backbone.mlm!;
    const V = m.decoder.shape[0]!;
    const ids = Int32Array.from(this.verbalizer.ids);
    // The head's own transform (its family's activation; none for XLNet's lm_loss), then only the label words' decoder rows.
    const t = m.transform(h);
    const bias = reshape(gatherRows(reshape(m.bias, [V, 1]), ids), [ids.length]);
    return linear(t, gatherRows(m.decoder, ids), bias);
  }
}
