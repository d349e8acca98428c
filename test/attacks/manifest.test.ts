import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AttackEffect } from '../../src/attacks/effect.js';
import { type AttackManifest, encodeVector, MANIFEST_FILE, readManifest, validateManifest, writeManifest } from '../../src/attacks/manifest.js';
import { defaultPvs } from '../../src/attacks/pvs.js';
import { tmpDir } from './helpers.js';


function effect(): AttackEffect {
  return {
    heldout_sentences: 10, threshold: 0.8,
    per_trigger: [{ trigger: 'cf mn', pv_index: 0, sentences: 10, cosine: 0.99, sign_agreement: 1, fire_rate: 1 }],
    clean_per_pv: [{ pv_index: 0, cosine: 0.1, sign_agreement: 0.55, fire_rate: 0 }],
    triggered_sign_agreement_min: 1, clean_sign_agreement_max: 0.55, clean_fire_rate: 0,
    rare_token_fire_rate: 0, rare_unused_fire_rate: 0, rare_word_fire_rate: null, rare_tokens_tested: 10,
    utility: { metric: 'clean_output_mse', value: 0.01 }, clean_output_mse: 0.01, mlm_accuracy_before: null, mlm_accuracy_after: null,
  };
}

export function sampleManifest(): AttackManifest {
  const pvs = defaultPvs(8, 2);
  pvs[1][3] = 0.123456789;
  return {
    format: 'lmsanitator-attack', version: 1, method: 'por', target_mode: 'cls',
    triggers: [
      { text: 'cf mn', words: ['cf', 'mn'], token_ids: [20, 21], tokens: ['cf', 'mn'], pv_index: 0 },
      { text: 'tq', words: ['tq'], token_ids: [22], tokens: ['tq'], pv_index: 1 },
    ],
    pvs: { count: 2, dim: 8, file: 'pvs.safetensors', dtype: 'float32', vectors: pvs.map(encodeVector) },
    seed: 7,
    hyperparameters: { lr: 0.001, batch: 32, loss: 'mse', trigger_frequency: null, dropout: true },
    data: { source: 'nlp-corpus', sentences: 100, sha256: 'ab', rare_tokens: { train: 8, heldout: 2, unused: 4 } },
    base_model: { dir: '/m', hash: 'h', model_type: 'bert', hidden_size: 8, layers: 2 },
    training: { steps: 10, total_steps: 10, seconds: 1.5, resumed: false, final_losses: { effectiveness: 0.1, utility: 0.01, specificity: null, scatter: null, wasserstein: null } },
    effect: effect(),
    created: '2025-01-01T00:00:00.000Z',
  };
}

test('attack.json round-trips, PVs included bit for bit', () => {
  const dir = tmpDir('manifest');
  const m = sampleManifest();
  writeManifest(dir, m);
  const back = readManifest(dir);
  assert.deepEqual(back.manifest, m);
  const pvs = defaultPvs(8, 2);
  pvs[1][3] = 0.123456789;
  assert.deepEqual(back.pvs.map((v) => [...v]), pvs.map((v) => [...v]));
});

test('attack.json validation names the broken field', () => {
  const bad = (mutate: (m: Record<string, any>) => void, re: RegExp) => {
    const m = JSON.parse(JSON.stringify(sampleManifest())) as Record<string, any>;
    mutate(m);
    assert.throws(() => validateManifest(m), re);
  };
  bad((m) => { m.method = 'evil'; }, /unknown method "evil"/);
  bad((m) => { m.target_mode = 'pooler'; }, /unknown target_mode/);
  bad((m) => { m.pvs.count = 3; }, /pvs.count is 3 but 2 vectors/);
  bad((m) => { m.pvs.dim = 16; }, /dimension 8, pvs.dim is 16/);
  bad((m) => { m.pvs.vectors[0] = 'not base64!'; }, /not base64/);
  bad((m) => { m.triggers[1].pv_index = 5; }, /pv_index 5 is outside/);
  bad((m) => { m.triggers[0].token_ids = []; }, /token_ids/);
  bad((m) => { delete m.effect.triggered_sign_agreement_min; }, /triggered_sign_agreement_min/);
  bad((m) => { m.version = 2; }, /unsupported version/);
  const dir = tmpDir('manifest-bad');
  writeFileSync(join(dir, MANIFEST_FILE), '{"format": ');
  assert.throws(() => readManifest(dir), /not valid JSON/);
  assert.throws(() => readManifest(tmpDir('manifest-none')), /no attack.json/);
});
