import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ATTACK_EFFECT_FLOOR, attackEffectOf, evaluateDetection, roleOf, splitByAttackEffect } from '../../src/eval/detection.js';
import { tmpDir } from '../helpers/tmp.js';

const options = (outDir: string) => ({ base: 'bert-micro', clean: 1, backdoored: 0, methods: ['por'], outDir, seed: 0, parallel: 0, loops: 1, quiet: true });

test('eval detection refuses a directory that holds an evaluation with other settings', async () => {
  const out = tmpDir('detection-settings');
  writeFileSync(join(out, 'settings.json'), JSON.stringify({ base: 'bert-mini', seed: 0, methods: ['por'], loops: 1 }));
  await assert.rejects(evaluateDetection(options(out)), /holds an evaluation with other settings.*use another --out/);
});

test('eval detection refuses a journal written for another base model', async () => {
  const out = tmpDir('detection-journal');
  mkdirSync(out, { recursive: true });
  const record = { name: 'clean-base', dir: '/somewhere/zoo/bert-mini', positive: false, method: null, triggers: [], flagged: false, score: 0, modes: [], buildSeconds: 0, scanSeconds: 1 };
  // The last line is torn, as a kill mid-write leaves it.
  writeFileSync(join(out, 'detection.jsonl'), `${JSON.stringify(record)}\n{"name":"clean-0`);
  await assert.rejects(evaluateDetection(options(out)), /written for the base model at \/somewhere\/zoo\/bert-mini, not bert-micro/);
  assert.equal(existsSync(join(out, 'settings.json')), false, 'nothing written for a refused run');
  assert.match(readFileSync(join(out, 'detection.jsonl'), 'utf8'), /^\{"name":"clean-base"/);
});

test('eval detection: the held-out options are part of the settings a directory is bound to', async () => {
  for (const extra of [{ varyAttacks: true }, { triggerPool: 'vocabulary' as const }, { acceptAt: 'final-epoch' as const }]) {
    const out = tmpDir('detection-heldout');
    writeFileSync(join(out, 'settings.json'), JSON.stringify({ base: 'bert-micro', seed: 0, methods: ['por'], loops: 1 }));
    await assert.rejects(evaluateDetection({ ...options(out), ...extra }), /holds an evaluation with other settings/, JSON.stringify(extra));
  }
});

test('eval detection: a backdoored model whose attack did not take effect is reported apart, not dropped', () => {
  const m = (name: string, positive: boolean, flagged: boolean, agreement?: number) => ({
    name, dir: '/nowhere', positive, method: positive ? 'por-ner' : null, triggers: [], flagged, score: flagged ? 3 : 0.4, modes: [], buildSeconds: 0, scanSeconds: 0,
    ...(agreement === undefined ? {} : { attackEffect: { triggeredSignAgreementMin: agreement, effective: agreement > ATTACK_EFFECT_FLOOR } }),
  });
  const models = [m('clean-base', false, false), m('backdoor-0', true, true, 0.999), m('backdoor-1', true, false, 0.618), m('backdoor-2', true, false, 0.95)];
  const { effective, ineffective } = splitByAttackEffect(models);
  assert.deepEqual(ineffective, ['backdoor-1']);
  assert.deepEqual(effective.map((x) => x.name), ['clean-base', 'backdoor-0', 'backdoor-2'], 'a missed backdoor that worked still counts as a miss');
  assert.equal(ATTACK_EFFECT_FLOOR, 0.8, "the guard's η");
  assert.equal(attackEffectOf(tmpDir('not-attacked')), null);
});

test('eval detection: the base model and default-trigger POR copies are tuning models; everything else is held out', () => {
  const m = (name: string, positive: boolean, method: string | null, triggers: string[], attack?: object) => ({ name, positive, method, triggers, ...(attack ? { attack: attack as never } : {}) });
  assert.equal(roleOf(m('clean-base', false, null, [])), 'tuning');
  assert.equal(roleOf(m('clean-sms-spam-1', false, null, [])), 'held-out');
  assert.equal(roleOf(m('backdoor-0-por', true, 'por', ['cf', 'mm'])), 'tuning');
  assert.equal(roleOf(m('backdoor-1-por', true, 'por', ['kayla'])), 'held-out', 'a drawn trigger');
  assert.equal(roleOf(m('backdoor-2-por', true, 'por', ['cf'], { utility_coeff: 1, lr_factor: 2, epochs: 3, pvs: 'random' })), 'held-out', 'drawn attack settings');
  assert.equal(roleOf(m('backdoor-3-neuba', true, 'neuba', ['cf'])), 'held-out', 'another attack');
});
