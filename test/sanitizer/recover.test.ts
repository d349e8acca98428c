/**
 * Trigger recovery (src/sanitizer/recover.ts): on a micro BERT backdoored by
 * POR with two triggers drawn at random from its ordinary vocabulary (words
 * nothing in the code knows), recovery must name each trigger as the top
 * candidate of its PV; the whole-word vocabulary follows each tokenizer's
 * convention; and the report carries the candidates.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runAttack } from '../../src/attacks/attack.js';
import { readManifest } from '../../src/attacks/manifest.js';
import { buildScanReport } from '../../src/eval/report.js';
import { renderReportHtml } from '../../src/eval/report-html.js';
import { loadModel } from '../../src/models/model.js';
import { scanTargetOf } from '../../src/sanitizer/model-target.js';
import { RECOVERY_DEFAULTS, recoverTriggers, wholeWordTokens } from '../../src/sanitizer/recover.js';
import type { ScanTarget } from '../../src/sanitizer/target.js';
import { Rng } from '../../src/text/random.js';
import { buildMicroModel, tmpDir, wordList } from '../attacks/helpers.js';
import { fakeInput } from '../eval/fake-run.js';

const micro = buildMicroModel({ sentences: 800 });
// Two of the rarer pseudo-words, drawn by a seed: the attack's triggers.
const triggers = new Rng('recover-test').shuffled(wordList(300).slice(150)).slice(0, 2);
const outDir = join(tmpDir('recover-por'), 'model');
const attacked = runAttack({
  modelDir: micro.dir, outDir, method: 'por', dataFile: micro.dataFile, triggers, sentencesPerTrigger: 100, epochs: 4, heldout: 60, lr: 1e-3,
});

test('recovery names each random trigger as the top candidate of its PV', async () => {
  const r = await attacked;
  assert.equal(r.status, 'done');
  const { manifest, pvs } = readManifest(outDir);
  const target = scanTargetOf(loadModel(outDir));
  const planted = manifest.triggers.map((t) => pvs[t.pv_index]!);
  const got = recoverTriggers(target, planted, micro.sentences.slice(0, 200), planted.map(() => []), {
    ...RECOVERY_DEFAULTS, mode: 'cls', tokenPosition: 1, maxLen: 64,
  });
  assert.equal(got.candidates.length, 2);
  got.candidates.forEach((list, k) => {
    assert.deepEqual(list[0]!.words, [triggers[k]], `PV ${k}: top candidate ${JSON.stringify(list[0])}, trigger ${triggers[k]}`);
    assert.ok(list[0]!.fire_rate >= 0.9, `the trigger fires ${list[0]!.fire_rate}`);
    assert.ok(list[0]!.collapse_rate >= 0.9, `the trigger collapses the sentences onto its own vector (${list[0]!.collapse_rate})`);
    assert.ok(list[0]!.clean_agreement < 0.8, `and that vector is away from the clean outputs (sign agreement ${list[0]!.clean_agreement})`);
    assert.ok(list.length > 1 && list[1]!.match_rate < list[0]!.match_rate, 'ranked best first');
    for (let i = 1; i < list.length; i++) assert.ok(list[i]!.match_rate <= list[i - 1]!.match_rate);
  });
  assert.deepEqual(got.wordsFiring, [1, 1], 'each PV answers to its one trigger word');
  assert.ok(got.wordsSwept >= 300, `the whole ordinary vocabulary is swept (${got.wordsSwept})`);
  assert.ok(got.rows > got.wordsSwept * RECOVERY_DEFAULTS.sweepSentences - 1);

  // A budget bounds the sweep; the seeded words are swept first, so a seed holding the trigger still finds it.
  const tok = loadModel(outDir).tokenizer!;
  const seeded = recoverTriggers(target, planted.slice(0, 1), micro.sentences.slice(0, 200), [[tok.tokenToId(triggers[0]!)!]], {
    ...RECOVERY_DEFAULTS, mode: 'cls', tokenPosition: 1, maxLen: 64, maxWords: 20,
  });
  assert.equal(seeded.wordsSwept, 20);
  assert.deepEqual(seeded.candidates[0]![0]!.words, [triggers[0]]);
});

test('report.json and report.html carry each PV\'s trigger candidates and the recovery\'s cost', () => {
  const input = fakeInput();
  const candidates = [{ words: ['cf'], match_rate: 0.98, fire_rate: 0.97, collapse_rate: 1, clean_agreement: 0.5 }, { words: ['mn', 'tq'], match_rate: 0.7, fire_rate: 0.1, collapse_rate: 0.2, clean_agreement: 0.9 }];
  input.driverResult.pvs[0]!.triggerCandidates = candidates;
  input.driverResult.pvs[0]!.triggerWordsFiring = 1;
  const recovery = { candidates: [candidates], wordsFiring: [1], wordsSwept: 23511, rows: 97308, seconds: 41 };
  const report = buildScanReport({ ...input, recovery });
  assert.deepEqual(report.pvs[0]!.trigger_candidates, candidates);
  assert.equal(report.pvs[0]!.trigger_words_firing, 1);
  assert.deepEqual(report.triggerRecovery, { wordsSwept: 23511, rows: 97308, seconds: 41, secondsPerPv: 41 / input.driverResult.pvs.length });
  const html = renderReportHtml({ report, pca: null });
  assert.match(html, /Inserting <code class="tok">cf<\/code> into a clean sentence maps <b>97%<\/b> of sentences onto PV #0/);
  assert.match(html, /<code class="tok">mn tq<\/code>/);
  const none = buildScanReport(fakeInput());
  assert.equal(none.pvs[0]!.trigger_candidates, null, 'not run: null, not an empty list');
  assert.equal(none.triggerRecovery, null);
});

function fakeTarget(tokens: string[], special: Set<number>): ScanTarget {
  return { vocabSize: tokens.length, isSpecialOrUnused: (id: number) => special.has(id), tokenString: (id: number) => tokens[id]! } as unknown as ScanTarget;
}

test('whole-word tokens: WordPiece drops ## pieces, byte-level BPE keeps Ġ-words, specials and punctuation are left out', () => {
  const wp = wholeWordTokens(fakeTarget(['[PAD]', 'cf', '##t', 'the', ',', '42', '[unused0]'], new Set([0, 6])));
  assert.deepEqual(wp.map((w) => w.text), ['cf', 'the', '42']);
  const bpe = wholeWordTokens(fakeTarget(['<s>', 'Ġcf', 'ing', 'Ġthe', 'Ġ,', 'Ġ42', 'ed'], new Set([0])));
  assert.deepEqual(bpe.map((w) => [w.text, w.ids[0]]), [['cf', 1], ['the', 3], ['42', 5]]);
});
