/**
 * The encoder against golden outputs of independent PyTorch references
 * (test/fixtures/golden, made by generate.py for BERT/RoBERTa,
 * generate_families.py for ELECTRA/ALBERT, generate_deberta.py for
 * DeBERTa v1/v2/v3 and generate_xlnet.py for XLNet): hidden states, pooler, MLM
 * logits, and the gradient of a scalar loss with respect to the input
 * embeddings, the P-tuning v2 prefix and (families) some stored weights —
 * an ALBERT layer's summed over every application — on both backends.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  backendName, backwardMany, nativeAvailable, noGrad, reshape, setBackend, Tensor, withScope,
} from '../../src/engine/index.js';
import { loadEncoderConfig } from '../../src/formats/hf-config.js';
import { loadSafetensors } from '../../src/formats/safetensors.js';
import { fromStateDict } from '../../src/models/model.js';

const ROOT = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'golden');
const cases = readdirSync(ROOT, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

type Nested = number | Nested[];
const flat = (x: Nested): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x]);

function assertClose(what: string, actual: ArrayLike<number>, expected: number[]): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(1, ...expected.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const tol = 1e-4 * Math.abs(expected[i]) + 1e-5 * scale;
    worst = Math.max(worst, err / tol);
    assert.ok(err <= tol, `${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (|err| ${err.toExponential(2)} > tol ${tol.toExponential(2)})`);
  }
  assert.ok(worst <= 1, `${what}: worst error/tolerance ${worst}`);
}

function runCase(name: string): void {
  const dir = join(ROOT, name);
  const g = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
  const config = loadEncoderConfig(dir);
  const model = fromStateDict(config, loadSafetensors(join(dir, 'model.safetensors')).tensors);
  const { batch: B, seq_len: T, hidden: H, num_layers: L, prefix_len: P } = g.dims;
  const E: number = g.dims.embedding ?? H;
  const ids = g.inputs.input_ids ? Int32Array.from(flat(g.inputs.input_ids)) : undefined;
  const paramGrads: Record<string, Nested> = g.grads.params ?? {};
  const watched = Object.keys(paramGrads).map((n) => {
    const t = model.encoder.params.get(n);
    assert.ok(t, `${name}: parameter ${n} loaded`);
    return [n, t] as const;
  });
  withScope(() => {
    for (const [, t] of watched) {
      t.requiresGrad = true;
      t.grad = null;
    }
    // The loss gradient is taken with respect to the word-embedding lookup output.
    const embeds = ids
      ? new Tensor(Float32Array.from(noGrad(() => model.encoder.embedIds(ids, B, T)).data), [B, T, E], { requiresGrad: true })
      : Tensor.from(flat(g.inputs.inputs_embeds), [B, T, E], { requiresGrad: true });
    let prefix: { keys: Tensor[]; values: Tensor[] } | undefined;
    if (g.inputs.prefix_key) {
      const per = (x: Nested[]) => x.map((l) => Tensor.from(flat(l), [B, P, H], { requiresGrad: true }));
      prefix = { keys: per(g.inputs.prefix_key), values: per(g.inputs.prefix_value) };
    }
    const out = model.encoder.forward({
      batch: B, seqLen: T, inputIds: ids, inputsEmbeds: embeds,
      attentionMask: flat(g.inputs.attention_mask), tokenTypeIds: Int32Array.from(flat(g.inputs.token_type_ids)),
      prefix, outputHiddenStates: true,
    });
    // XLNet has no position ids (its positions are relative): position_ids is null.
    if (g.inputs.position_ids !== null) assert.deepEqual([...model.encoder.positionIds({ batch: B, seqLen: T, inputIds: ids }, P)], flat(g.inputs.position_ids));
    assertClose(`${name} embedding_output`, out.hiddenStates![0].data, flat(g.outputs.embedding_output));
    if (g.outputs.all_hidden_states) {
      for (let l = 0; l <= L; l++) assertClose(`${name} hidden_states[${l}]`, out.hiddenStates![l].data, flat(g.outputs.all_hidden_states[l]));
    }
    assertClose(`${name} last_hidden_state`, out.lastHiddenState.data, flat(g.outputs.last_hidden_state));
    if (g.outputs.pooler_output === null) assert.equal(out.poolerOutput, null, `${name}: no pooler`);
    else assertClose(`${name} pooler_output`, out.poolerOutput!.data, flat(g.outputs.pooler_output));
    assert.ok(model.mlm, `${name}: MLM head loaded`);
    const logits = noGrad(() => model.mlm!.forward(reshape(out.lastHiddenState, [B * T, H])));
    assertClose(`${name} mlm_logits`, logits.data, flat(g.outputs.mlm_logits));

    backwardMany([
      [out.lastHiddenState, Float32Array.from(flat(g.loss_weights.R1))],
      ...(out.poolerOutput ? [[out.poolerOutput, Float32Array.from(flat(g.loss_weights.R2))] as [Tensor, Float32Array]] : []),
    ]);
    assertClose(`${name} d loss/d inputs_embeds`, embeds.grad!, flat(g.grads.inputs_embeds));
    for (const [n, t] of watched) assertClose(`${name} d loss/d ${n}`, t.grad!, flat(paramGrads[n]!));
    for (const [, t] of watched) {
      t.requiresGrad = false;
      t.grad = null;
    }
    if (prefix) {
      for (let l = 0; l < L; l++) {
        assertClose(`${name} d loss/d prefix_key[${l}]`, prefix.keys[l].grad!, flat(g.grads.prefix_key[l]));
        assertClose(`${name} d loss/d prefix_value[${l}]`, prefix.values[l].grad!, flat(g.grads.prefix_value[l]));
      }
    }
  });
}

for (const backend of ['native', 'js'] as const) {
  for (const name of cases) {
    test(`golden ${name} (${backend} backend)`, { skip: backend === 'native' && !nativeAvailable() ? 'native addon not built' : false }, () => {
      const before = backendName();
      setBackend(backend);
      try {
        runCase(name);
      } finally {
        setBackend(before);
      }
    });
  }
}

/** A golden case's model and inputs, for the outputPositions checks. */
function loadCase(name: string) {
  const dir = join(ROOT, name);
  const g = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
  const model = fromStateDict(loadEncoderConfig(dir), loadSafetensors(join(dir, 'model.safetensors')).tensors);
  const { batch: B, seq_len: T, hidden: H, prefix_len: P } = g.dims;
  const E: number = g.dims.embedding ?? H;
  const ids: Int32Array | undefined = g.inputs.input_ids ? Int32Array.from(flat(g.inputs.input_ids)) : undefined;
  const perLayer = (x: Nested[]) => x.map((l) => Tensor.from(flat(l as Nested[]), [B, P, H]));
  return {
    g, model, B, T, H, ids,
    /** Input embeddings as a leaf that collects gradients. */
    embeds: (): Tensor => (ids
      ? new Tensor(Float32Array.from(noGrad(() => model.encoder.embedIds(ids, B, T)).data), [B, T, E], { requiresGrad: true })
      : Tensor.from(flat(g.inputs.inputs_embeds), [B, T, E], { requiresGrad: true })),
    rest: () => ({
      batch: B, seqLen: T, inputIds: ids,
      prefix: g.inputs.prefix_key ? { keys: perLayer(g.inputs.prefix_key), values: perLayer(g.inputs.prefix_value) } : undefined,
      attentionMask: flat(g.inputs.attention_mask) as number[], tokenTypeIds: Int32Array.from(flat(g.inputs.token_type_ids)),
    }),
  };
}

/**
 * outputPositions (the scanner's last-layer shortcut) gives the golden
 * last hidden state at the chosen rows, and the same input gradient as the
 * full forward pass with the loss restricted to those rows.
 */
function runSelectedRows(name: string): void {
  const c = loadCase(name);
  const { B, T, H } = c;
  const positions = Int32Array.from({ length: B }, (_, b) => (b * 3 + 1) % T);
  const expected = flat(c.g.outputs.last_hidden_state);
  const weights = Float32Array.from({ length: B * H }, (_, i) => Math.sin(i + 1));
  const gradOf = (selected: boolean): { out: Float32Array; grad: Float32Array } => withScope(() => {
    const embeds = c.embeds();
    const out = c.model.encoder.forward({ ...c.rest(), inputsEmbeds: embeds, withPooler: false, outputPositions: selected ? positions : undefined });
    let w = weights;
    if (!selected) {
      w = new Float32Array(B * T * H);
      positions.forEach((t, b) => w.set(weights.subarray(b * H, (b + 1) * H), (b * T + t) * H));
    }
    backwardMany([[out.lastHiddenState, w]]);
    return { out: Float32Array.from(out.lastHiddenState.data), grad: Float32Array.from(embeds.grad!) };
  });
  const sel = gradOf(true);
  assert.equal(sel.out.length, B * H, 'one row per batch row');
  const rows: number[] = [];
  positions.forEach((t, b) => rows.push(...expected.slice((b * T + t) * H, (b * T + t + 1) * H)));
  assertClose(`${name} last_hidden_state at outputPositions`, sel.out, rows);
  assertClose(`${name} d loss/d inputs_embeds through outputPositions`, sel.grad, Array.from(gradOf(false).grad));
}

/** The pooler reads position 0, so it works through outputPositions of zeros and refuses others. */
function runPoolerAtZero(name: string): void {
  const c = loadCase(name);
  if (c.g.outputs.pooler_output === null) return;
  const { B, T } = c;
  withScope(() => noGrad(() => {
    const input = { ...c.rest(), inputsEmbeds: c.embeds() };
    const out = c.model.encoder.forward({ ...input, outputPositions: new Int32Array(B) });
    assertClose(`${name} pooler_output via outputPositions`, out.poolerOutput!.data, flat(c.g.outputs.pooler_output));
    assert.throws(() => c.model.encoder.forward({ ...input, outputPositions: Int32Array.from({ length: B }, () => 1) }), /pooler reads position 0/);
    assert.throws(() => c.model.encoder.forward({ ...input, outputPositions: Int32Array.from({ length: B }, () => T) }), /outside the sequence/);
  }));
}

for (const name of cases) {
  test(`golden ${name}: outputPositions`, () => {
    runSelectedRows(name);
    runPoolerAtZero(name);
  });
}
