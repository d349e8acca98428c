/** A minimal valid attack.json for fixture backbones (32 wide): triggers from the fixture vocabulary, one ±1 PV each. */
import assert from 'node:assert/strict';
import { type AttackManifest, encodeVector, writeManifest } from '../../src/attacks/manifest.js';
import { fixtureVocab } from '../train/helpers.js';

export function writeFakeManifest(dir: string, baseDir: string, triggers: readonly string[]): Float32Array[] {
  const vocab = fixtureVocab();
  const trig = triggers.map((text, i) => {
    const words = text.split(' ');
    return { text, words, token_ids: words.map((w) => vocab.indexOf(w)), tokens: words, pv_index: i };
  });
  assert.ok(trig.every((t) => t.token_ids.every((id) => id >= 0)), 'the manifest triggers are in the fixture vocabulary');
  const pv = (k: number) => Float32Array.from({ length: 32 }, (_, j) => ((j + k) % 2 ? 1 : -1));
  const pvs = triggers.map((_, k) => pv(k));
  const m: AttackManifest = {
    format: 'lmsanitator-attack', version: 1, method: 'por', target_mode: 'cls', triggers: trig,
    pvs: { count: pvs.length, dim: 32, file: 'pvs.safetensors', dtype: 'float32', vectors: pvs.map(encodeVector) },
    seed: 4, hyperparameters: {}, data: {}, base_model: { dir: baseDir, hash: 'h', model_type: 'bert', hidden_size: 32, layers: 2 },
    training: { steps: 1, total_steps: 1, seconds: 0, resumed: false, final_losses: null },
    effect: {
      heldout_sentences: 0, threshold: 0.8, per_trigger: [], clean_per_pv: [], triggered_sign_agreement_min: 1, clean_sign_agreement_max: 0,
      clean_fire_rate: 0, rare_token_fire_rate: null, rare_unused_fire_rate: null, rare_word_fire_rate: null, rare_tokens_tested: 0,
      utility: { metric: 'clean_output_mse', value: 0 }, clean_output_mse: 0, mlm_accuracy_before: null, mlm_accuracy_after: null,
    },
    created: '2025-01-01T00:00:00.000Z',
  };
  writeManifest(dir, m);
  return pvs;
}
