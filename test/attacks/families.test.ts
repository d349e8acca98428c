/**
 * The attacks and the scanner on the factorised families (ELECTRA: E → H
 * projection, no pooler; ALBERT: one shared layer applied twice, gelu_new),
 * a micro model of each is pretrained briefly
 * on the built-in corpus (a random-init model's outputs are too alike for
 * any scan), POR must plant a working backdoor, the copy must load back as
 * the same family, and scan must flag it and pass the clean model — the
 * whole pipeline, not only the forward pass.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runAttack } from '../../src/attacks/attack.js';
import { loadModel } from '../../src/models/model.js';
import { SCAN_DEFAULTS } from '../../src/eval/scan-model.js';
import { runScan } from '../../src/sanitizer/run.js';
import { nlpCorpusSentences, splitTrainHeldout } from '../../src/text/corpus.js';
import { pretrain } from '../../src/train/pretrain.js';
import { familyConfig, familyTokenizer } from '../../src/zoo/configs.js';
import { tmpDir } from './helpers.js';

const corpus = nlpCorpusSentences().slice(0, 12000);
const { train, heldout } = splitTrainHeldout(corpus, { seed: 'families-test', heldoutFraction: 0.02 });

function pretrainedMicro(family: 'electra' | 'albert'): string {
  const tok = familyTokenizer(family, 128);
  const config = familyConfig(family, tok, { layers: 2, hidden: 64, heads: 2, ff: 256, maxPositions: 128, embedding: 32 });
  const dir = tmpDir(`pretrained-${family}`);
  pretrain(config, tok, train, heldout.slice(0, 100), dir, {
    steps: 250, batchSize: 32, maxLen: 32, lr: 2e-3, warmupFraction: 0.06, weightDecay: 0.01, clip: 1, maskProb: 0.15, seed: 1,
    checkpointEvery: 1000, evalSentences: 100, quiet: true,
  }, 'nlp-corpus slice');
  return dir;
}

for (const family of ['electra', 'albert'] as const) {
  test(`${family}: POR plants a working backdoor, scan flags the copy and passes the clean model`, async () => {
    const clean = pretrainedMicro(family);
    const model = loadModel(clean);
    assert.equal(model.config.modelType, family);
    assert.equal(model.config.embeddingSize, 32);
    const outDir = join(tmpDir(`attack-${family}`), 'out');
    const r = await runAttack({ modelDir: clean, outDir, method: 'por', sentencesPerTrigger: 400, epochs: 4, heldout: 60 });
    assert.equal(r.status, 'done');
    for (const t of r.effect!.per_trigger) assert.ok(t.sign_agreement >= 0.9, `${family} trigger ${t.trigger}: sign agreement ${t.sign_agreement}`);
    assert.ok(r.effect!.clean_sign_agreement_max <= 0.7, `${family}: clean sign agreement ${r.effect!.clean_sign_agreement_max}`);
    const back = loadModel(outDir);
    assert.equal(back.config.modelType, family);
    assert.ok(back.mlm, `${family}: the MLM head is kept`);
    const config = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
    assert.equal(config.architectures[0], family === 'albert' ? 'AlbertForMaskedLM' : 'ElectraForMaskedLM');

    const scan = (modelDir: string) => runScan({
      command: 'scan', modelDir, outDir: tmpDir(`scan-${family}`), mode: 'cls', sentenceCount: SCAN_DEFAULTS.sentenceCount,
      loops: 10, patience: 100, seed: 0, parallel: 0, resume: false, quiet: true, recoverTriggers: false, cacheDir: null,
    });
    const flagged = scan(outDir);
    assert.equal(flagged.verdict, 'backdoored', `${family} POR copy: ${JSON.stringify(flagged.driver.loops.map((l) => [l.reasons, l.score]))}`);
    const passed = scan(clean);
    assert.equal(passed.verdict, 'clean', `${family} clean model: ${JSON.stringify(passed.driver.loops.map((l) => [l.reasons, l.score]))}`);
  });
}
