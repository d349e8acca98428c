/**
 * P-tuning reads the MLM head at the mask on the label words only; that
 * shortcut must score exactly what the family's full head scores (ALBERT's
 * head uses its config's gelu_new, ELECTRA's the erf GELU, both map H → E
 * before the tied [V, E] decoder). And the prompt rows live in E-wide
 * word-embedding space.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gatherRows, noGrad, reshape, withScope } from '../../src/engine/index.js';
import { padRows } from '../../src/prompt/model.js';
import { PTuningModel } from '../../src/prompt/ptuning.js';
import { promptModel } from './helpers.js';

for (const family of ['bert', 'electra', 'albert'] as const) {
  test(`P-tuning on ${family}: label-word logits = the full MLM head's at the mask; prompt rows are E wide`, () => withScope(() => noGrad(() => {
    // A wide initialisation puts the head's pre-activations where gelu and gelu_new differ.
    const backbone = promptModel({ family, hidden: 16, heads: 2, layers: 2, maxPos: 48, seed: 5, initStd: 0.5 });
    const m = PTuningModel.create(backbone, { task: 'sst2', maxLen: 24, seed: 1 });
    assert.equal(m.trainable().values().next().value!.shape[1], backbone.config.embeddingSize);
    const rows = [{ text: 'a great film' }, { text: 'the worst movie of the year' }].map((e) => m.encode(e));
    const batch = padRows(rows, backbone.tokenizer!.specialIds.pad);
    const { logits, hidden } = m.forward(batch);
    const full = backbone.mlm!.forward(hidden);
    const V = backbone.config.vocabSize;
    const ids = Int32Array.from(m.info.verbalizerIds!);
    const expected = reshape(gatherRows(reshape(full, [-1, 1]), Int32Array.from({ length: rows.length * ids.length }, (_, n) => Math.floor(n / ids.length) * V + ids[n % ids.length]!)), [rows.length, ids.length]);
    for (let n = 0; n < expected.size; n++) assert.ok(Math.abs(logits.data[n]! - expected.data[n]!) < 1e-5, `${family} logit ${n}: ${logits.data[n]} vs ${expected.data[n]}`);
  })));
}
