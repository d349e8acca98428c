/**
 * The guard on fixture backbones (a random tiny BERT; the real backdoor is
 * in test/e2e/demo.test.ts): the post-monitor reads exactly the hidden
 * state the prompt's head used, in the same forward; the pre-monitor reads
 * a bare-backbone pass; purification keeps its promise (the purified input
 * passes the monitor and gets the winner's label); sentence pairs, inputs
 * longer than the positions, empty text; PV sets of another width, mode or
 * backbone are refused; the CLI's contract keys.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Guard, monitorFor, requiredMode } from '../../src/guard/guard.js';
import { backboneOf } from '../../src/models/backbone.js';
import { loadModel, saveModel } from '../../src/models/model.js';
import { createPromptModel, padRows, type PromptModel, savePrompt } from '../../src/prompt/index.js';
import { SignMonitor } from '../../src/sanitizer/monitor.js';
import { savePvSet } from '../../src/sanitizer/pvset.js';
import { splitWords } from '../../src/text/words.js';
import { bundledDataDir } from '../../src/text/data-dir.js';
import { promptModel, tmpDir } from '../prompt/helpers.js';

const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'lmsanitator.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

const backbone = promptModel({ seed: 11, initStd: 0.2 });
const v2 = createPromptModel(backbone, { method: 'ptuning-v2', task: 'sst2', prefixLen: 4, maxLen: 128, seed: 1 });
const pt = createPromptModel(backbone, { method: 'ptuning', task: 'sst2', prefixLen: 2, maxLen: 128, seed: 1 });
const rte = createPromptModel(backbone, { method: 'ptuning-v2', task: 'rte', prefixLen: 4, maxLen: 128, seed: 1 });

const INPUTS = ['a gorgeous film', 'dull and long , with no end in sight', 'it was fine', 'the film was a good one cf', ''].map((text) => ({ text }));

/** The model's monitored hidden rows, by a forward of its own (one row per input). */
function hiddenOf(model: PromptModel, inputs: { text: string; text_pair?: string }[], bare = false): Float32Array[] {
  return inputs.map((x) => {
    const b = padRows([model.encode({ text: x.text, textB: x.text_pair })], backbone.tokenizer!.specialIds.pad);
    const h = bare
      ? backboneOf(backbone.encoder).forward({ batch: 1, seqLen: b.T, ids: b.ids, mask: b.mask, tokenTypes: b.typeIds, positions: Int32Array.of(model.method === 'ptuning' ? b.rows[0]!.maskAt! : 0) }).hidden
      : model.forward(b).hidden;
    return Float32Array.from(h.data);
  });
}

const brute = (h: Float32Array, pv: Float32Array) => h.reduce((n, x, d) => n + ((x >= 0) === (pv[d]! >= 0) ? 1 : 0), 0) / h.length;

test('guard: the post-monitor rates are those of the hidden state the head read, in the same forward', () => {
  for (const model of [v2, pt]) {
    const hs = hiddenOf(model, INPUTS);
    const pvs = [hs[3]!, Float32Array.from(hs[0]!, (x) => -x)];
    const g = new Guard(model, new SignMonitor(pvs, backbone.config.hiddenSize), { batchSize: 2 });
    let forwards = 0;
    const forward = model.forward.bind(model);
    (model as { forward: typeof forward }).forward = (b, o) => {
      forwards++;
      return forward(b, o);
    };
    try {
      const got = g.runMonitored(INPUTS);
      assert.equal(forwards, 3, 'one forward per batch of 2: no second pass for the monitor');
      got.forEach((m, i) => {
        assert.deepEqual(Array.from(m.match.rates), pvs.map((p) => brute(hs[i]!, p)), `${model.method} input ${i}`);
      });
      assert.equal(got[3]!.match.rate, 1);
      assert.equal(got[3]!.match.triggered, true);
    } finally {
      delete (model as { forward?: unknown }).forward;
    }
    // Pre-monitor: a bare-backbone pass over the same rows.
    const bare = hiddenOf(model, INPUTS, true);
    const pre = new Guard(model, new SignMonitor(pvs, backbone.config.hiddenSize), { monitor: 'pre' }).runMonitored(INPUTS);
    pre.forEach((m, i) => assert.deepEqual(Array.from(m.match.rates), pvs.map((p) => brute(bare[i]!, p)), `pre ${model.method} input ${i}`));
  }
});

test('guard: a flagged input is purified only when the purified input passes, and gets that input\'s label', () => {
  const long = { text: Array.from({ length: 300 }, (_, i) => ['the', 'film', 'was', 'good', 'long', 'dull', 'cf'][i % 7]).join(' ') };
  // [model, inputs, the inputs whose hidden states are the PVs]
  const cases: [PromptModel, { text: string; text_pair?: string }[], number[]][] = [
    [v2, [...INPUTS, long], [0, 4]],
    [rte, [{ text: 'a man sleeps on the bench', text_pair: 'nobody cf sleeps' }, { text: '', text_pair: '' }], [0, 1]],
  ];
  for (const [model, inputs, pvOf] of cases) {
    const hs = hiddenOf(model, [...inputs]);
    const monitor = new SignMonitor(pvOf.map((i) => hs[i]!), backbone.config.hiddenSize);
    for (const onUnpurified of ['reject', 'classify'] as const) {
      const g = new Guard(model, monitor, { onUnpurified, chunk: 7 });
      const results = g.run(inputs);
      results.forEach((r, i) => {
        const x = inputs[i]!;
        assert.equal(r.triggered, r.match_rate > 0.8);
        if (!r.triggered) {
          assert.equal(r.action, 'passed');
          assert.equal(r.candidates, 0);
          assert.equal(r.purified_text, x.text);
          return;
        }
        const n = splitWords(x.text).length + splitWords(x.text_pair ?? '').length;
        assert.ok(r.candidates <= 3 * n, `O(n·l) candidates: ${r.candidates} for ${n} words`);
        if (r.action === 'purified') {
          assert.ok(r.removed.length >= 1 && r.removed.length <= 3);
          for (const w of r.removed) assert.ok(!splitWords(r.purified_text!).includes(w), `every "${w}" deleted`);
          if (x.text_pair !== undefined) for (const w of r.removed) assert.ok(!splitWords(r.purified_text_pair!).includes(w));
          const again = g.runMonitored([{ text: r.purified_text!, ...(x.text_pair !== undefined && { text_pair: r.purified_text_pair! }) }])[0]!;
          assert.equal(again.match.triggered, false);
          assert.equal(r.purified_match_rate, Math.round(again.match.rate * 1e6) / 1e6);
          assert.equal(r.label, 'label' in again.prediction ? again.prediction.label : null);
        } else if (onUnpurified === 'reject') {
          assert.equal(r.action, 'rejected');
          assert.equal(r.label, null);
          assert.equal(r.purified_text, null);
        } else {
          assert.equal(r.action, 'unpurified');
          assert.ok(r.label !== null);
        }
      });
      assert.equal(results[0]!.triggered, true, 'the input whose hidden state is a PV is flagged');
      if (model === v2 && onUnpurified === 'reject') {
        const actions = new Set(results.map((r) => r.action));
        assert.ok(actions.has('purified') && actions.has('rejected') && actions.has('passed'), `every branch is exercised: ${[...actions]}`);
      }
    }
  }
});

test('guard: PV sets of another width, mode or backbone are refused, naming the fix', () => {
  const H = backbone.config.hiddenSize;
  const set = { pvs: [new Float32Array(H)], hidden: H, mode: 'cls' as const, modelHash: backbone.hash };
  const m = { ...v2, backbone: { ...backbone, hash: 'ab'.repeat(32) } } as PromptModel;
  assert.equal(requiredMode(v2), 'cls');
  assert.equal(requiredMode(pt), 'mask');
  assert.throws(() => monitorFor(m, { ...set, modelHash: 'ab'.repeat(32), hidden: H + 1, pvs: [new Float32Array(H + 1)] }, 'p.safetensors'), /^Error: p\.safetensors: the PVs are 33 wide, the backbone's hidden size is 32/);
  assert.throws(() => monitorFor(m, { ...set, modelHash: 'ab'.repeat(32), mode: 'mask' }, 'p.safetensors'), /found in mask mode, but a ptuning-v2 prompt is monitored at the first token; run "lmsanitator scan .* --mode cls"/);
  assert.throws(() => monitorFor(m, { ...set, modelHash: 'cd'.repeat(32) }, 'p.safetensors'), /PVs found on the model with sha256 cdcdcdcdcdcd…, not on this backbone \(abababababab…\)/);
  assert.equal(monitorFor(m, { ...set, modelHash: 'ab'.repeat(32) }, 'p.safetensors').count, 1);
});

test('guard CLI: JSONL with the contract keys; eval prompt --guard adds the guard\'s figures; bad PV files exit 2', () => {
  const root = tmpDir('guard-cli');
  const dir = join(root, 'backbone');
  saveModel(dir, backbone);
  const loaded = loadModel(dir);
  const model = createPromptModel(loaded, { method: 'ptuning-v2', task: 'sst2', prefixLen: 4, maxLen: 128, seed: 1 });
  const promptDir = join(root, 'prompt');
  savePrompt(promptDir, model);
  const H = loaded.config.hiddenSize;
  const flagged = hiddenOf(model, [{ text: 'the film was a good one cf' }])[0]!;
  const pvs = join(root, 'pvset.safetensors');
  savePvSet(pvs, {
    modelHash: loaded.hash, modelDir: dir, mode: 'cls', hidden: H, promptLen: 1, embedDim: H, hyperParameters: {}, command: 'search',
    created: new Date().toISOString(), toolVersion: 'test', pvs: [flagged], prompts: [new Float32Array(H)], seeds: [1],
  });
  const input = join(root, 'in.jsonl');
  writeFileSync(input, '{"text": "a gorgeous film"}\n{"text": "the film was a good one cf"}\nnot json\n{"text": "x", "text_pair": "y"}\n');
  const r = cli('guard', dir, '--prompt', promptDir, '--pvs', pvs, '--input', input);
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, 3);
  for (const row of rows) {
    for (const k of ['text', 'label', 'probs', 'triggered', 'match_rate', 'pv', 'action', 'removed', 'purified_text']) assert.ok(k in row, k);
  }
  assert.equal(rows[1].triggered, true);
  assert.equal(rows[1].match_rate, 1);
  assert.equal(rows[1].pv, 0);
  assert.ok(['purified', 'rejected'].includes(rows[1].action));
  assert.match(r.stderr, /in\.jsonl:3: skipped: not valid JSON/);

  const ev = cli('eval', 'prompt', dir, '--prompt', promptDir, '--guard', pvs, '--data-dir', bundledDataDir(), '--max-test', '24', '--triggers', 'cf', '--json');
  assert.equal(ev.status, 0, ev.stderr);
  const e = JSON.parse(ev.stdout);
  for (const k of ['accuracy', 'asr', 'accuracy_guarded', 'asr_guarded', 'weighted_asr_guarded', 'frr', 'far', 'purified', 'rejected', 'candidates_per_flagged']) {
    assert.equal(typeof e[k], 'number', k);
  }
  assert.ok(e.frr >= 0 && e.frr <= 1 && e.far >= 0 && e.far <= 1);

  const bad = join(root, 'bad.safetensors');
  writeFileSync(bad, 'not a safetensors file at all');
  for (const [args, re] of [
    [['--pvs', bad], /bad\.safetensors/],
    [['--pvs', join(root, 'missing.safetensors')], /missing\.safetensors/],
    [['--pvs', pvs, '--max-window', '0'], /--max-window/],
  ] as const) {
    const x = cli('guard', dir, '--prompt', promptDir, '--text', 'x', ...args);
    assert.equal(x.status, 2, x.stderr);
    assert.equal(x.stderr.trim().split('\n').length, 1, x.stderr);
    assert.match(x.stderr, re);
  }
});
