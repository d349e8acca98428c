/** The shared training loop: it learns, keeps the best evaluated parameters, stops early, and resumes exactly from its checkpoint. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { linear, mse, Tensor } from '../../src/engine/index.js';
import { trainLoop, type TrainLoopSpec } from '../../src/train/loop.js';
import { tmpDir } from './helpers.js';

/** Fit y = 2x − 1 from a fixed set of 8 points; the metric is −MSE on them. */
function problem(): { params: Map<string, Tensor>; spec: Omit<TrainLoopSpec<number>, 'label' | 'steps'> } {
  const w = Tensor.from(new Float32Array([0]), [1, 1]);
  const b = Tensor.from(new Float32Array([0]), [1]);
  const xs = Float32Array.from({ length: 8 }, (_, i) => i / 4 - 1);
  const ys = xs.map((x) => 2 * x - 1);
  const x = Tensor.from(xs, [8, 1]);
  const y = Tensor.from(ys, [8, 1]);
  const params = new Map([['w', w], ['b', b]]);
  const error = () => {
    let s = 0;
    for (let i = 0; i < 8; i++) s += (w.data[0] * xs[i] + b.data[0] - ys[i]) ** 2;
    return s / 8;
  };
  return {
    params,
    spec: {
      params, lr: 0.1, warmupFraction: 0, weightDecay: 0, clip: 0, quiet: true,
      batchAt: (step) => step,
      lossOf: () => ({ loss: mse(linear(x, w, b), y), tokens: 8 }),
      evaluate: { every: 10, run: () => ({ metric: -error(), error: error() }) },
    },
  };
}

test('trainLoop fits a line and hands back the best evaluated parameters', () => {
  const { params, spec } = problem();
  const r = trainLoop({ ...spec, label: 'fit', steps: 200 });
  assert.equal(r.steps, 200);
  assert.equal(r.interrupted, false);
  assert.ok(r.losses[r.losses.length - 1] < r.losses[0] / 100, `loss ${r.losses[0]} → ${r.losses[r.losses.length - 1]}`);
  assert.ok(Math.abs(params.get('w')!.data[0] - 2) < 0.1);
  assert.equal(r.best!.metric, Math.max(...r.evals.map((e) => e.metric)));
  assert.ok(params.get('w')!.requiresGrad === false, 'parameters are frozen again afterwards');
});

test('trainLoop stops after `patience` evaluations without improvement and restores the best', () => {
  const { params, spec } = problem();
  // A metric that improves three times and then only worsens.
  let calls = 0;
  const r = trainLoop({
    ...spec, label: 'patience', steps: 1000, lr: 0.05,
    evaluate: { every: 5, patience: 2, run: () => ({ metric: calls++ < 3 ? calls : -calls }) },
  });
  assert.equal(r.earlyStopped, true);
  assert.equal(r.steps, 25, 'three improving evaluations, then two worse ones');
  assert.equal(r.best!.step, 15);
  assert.ok(params.get('w')!.data[0] !== 0);
});

test('an interrupted run resumes from its checkpoint to the same parameters as an uninterrupted one', () => {
  const file = join(tmpDir('loop-ck'), 'checkpoint.safetensors');
  const whole = problem();
  trainLoop({ ...whole.spec, evaluate: undefined, label: 'whole', steps: 60 });
  const part = problem();
  let polls = 0;
  const first = trainLoop({ ...part.spec, evaluate: undefined, label: 'part', steps: 60, checkpoint: { file, every: 7, identity: 'fit' }, shouldStop: () => ++polls >= 23 });
  assert.equal(first.interrupted, true);
  assert.equal(first.steps, 23);
  assert.ok(existsSync(file));
  const again = problem();
  const second = trainLoop({ ...again.spec, evaluate: undefined, label: 'part', steps: 60, checkpoint: { file, every: 7, identity: 'fit' } });
  assert.equal(second.resumedFrom, 23);
  assert.equal(second.steps, 60);
  assert.deepEqual([...again.params.get('w')!.data], [...whole.params.get('w')!.data]);
  assert.deepEqual([...again.params.get('b')!.data], [...whole.params.get('b')!.data]);
  assert.ok(!existsSync(file), 'a finished run removes its checkpoint');
  assert.throws(() => {
    const other = problem();
    trainLoop({ ...other.spec, evaluate: undefined, label: 'x', steps: 60, checkpoint: { file, every: 7, identity: 'fit' }, shouldStop: () => true });
    trainLoop({ ...other.spec, evaluate: undefined, label: 'x', steps: 60, checkpoint: { file, every: 7, identity: 'another run' } });
  }, /belongs to another run/);
});
