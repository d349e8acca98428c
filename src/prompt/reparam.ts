/**
 * Where the prompt rows come from: trained directly, or through a
 * reparameterisation network that only exists during training (both
 * papers report it steadies optimisation on some tasks). Names follow
 * PEFT so a reader can map them one to one:
 *   plain              prompt_embeddings                                      [P, W]
 *   P-tuning "MLP"     prompt_encoder.embedding.weight [P, H],
 *                      prompt_encoder.mlp_head.{0,2,4}.{weight,bias}          Linear–ReLU–Linear–ReLU–Linear
 *   prefix projection  prefix_encoder.embedding.weight [P, H],
 *                      prefix_encoder.transform.{0,2}.{weight,bias}           Linear–Tanh–Linear to W = 2·L·H
 * After training the network is folded away: its output becomes a plain
 * prompt_embeddings tensor (as PEFT saves it), which is all inference and
 * the artefact need.
 */
import { linear, noGrad, Tensor, tanh, withScope } from '../engine/index.js';
import { Rng } from '../text/random.js';
import { relu } from '../engine/index.js';

export interface ReparamInfo {
  /** PEFT's names: P_TUNING encoder_reparameterization_type "MLP", PREFIX_TUNING prefix_projection. */
  type: 'MLP' | 'prefix_projection';
  /** encoder_hidden_size. */
  hiddenSize: number;
}

export interface PromptRows {
  /** The tensors training updates, by name. */
  readonly params: Map<string, Tensor>;
  readonly reparam: ReparamInfo | null;
  /** [P, W]. */
  readonly shape: readonly [number, number];
  /** The prompt rows for this step (recorded on the tape when params require grad). */
  rows(): Tensor;
}

export const PROMPT_EMBEDDINGS = 'prompt_embeddings';

export function plainRows(t: Tensor): PromptRows {
  if (t.shape.length !== 2) throw new Error(`prompt rows must be [P, W], got [${t.shape.join(', ')}]`);
  t.name = PROMPT_EMBEDDINGS;
  return { params: new Map([[PROMPT_EMBEDDINGS, t]]), reparam: null, shape: [t.shape[0]!, t.shape[1]!], rows: () => t };
}

/** torch.nn.Linear's default initialisation: U(±1/√in) for weight and bias. */
function torchLinear(name: string, out: number, inF: number, rng: Rng, params: Map<string, Tensor>): [Tensor, Tensor] {
  const bound = 1 / Math.sqrt(inF);
  const w = Tensor.zeros([out, inF], { name: `${name}.weight` });
  const b = Tensor.zeros([out], { name: `${name}.bias` });
  for (const t of [w, b]) for (let i = 0; i < t.size; i++) t.data[i] = (rng.next() * 2 - 1) * bound;
  params.set(w.name!, w);
  params.set(b.name!, b);
  return [w, b];
}

/** torch.nn.Embedding's default initialisation: N(0, 1). */
export function normalRows(P: number, W: number, rng: Rng, name: string): Tensor {
  const t = Tensor.zeros([P, W], { name });
  for (let i = 0; i < t.size; i++) t.data[i] = rng.normal();
  return t;
}

/** PEFT's PromptEncoder with encoder_reparameterization_type "MLP" (P-tuning). */
export function mlpRows(P: number, H: number, hiddenSize: number, seed: number | string): PromptRows {
  const rng = new Rng(seed);
  const params = new Map<string, Tensor>();
  const emb = normalRows(P, H, rng, 'prompt_encoder.embedding.weight');
  params.set(emb.name!, emb);
  const l0 = torchLinear('prompt_encoder.mlp_head.0', hiddenSize, H, rng, params);
  const l2 = torchLinear('prompt_encoder.mlp_head.2', hiddenSize, hiddenSize, rng, params);
  const l4 = torchLinear('prompt_encoder.mlp_head.4', H, hiddenSize, rng, params);
  return {
    params, reparam: { type: 'MLP', hiddenSize }, shape: [P, H],
    rows: () => linear(relu(linear(relu(linear(emb, ...l0)), ...l2)), ...l4),
  };
}

/** PEFT's PrefixEncoder with prefix_projection (P-tuning v2's prefix encoder): [P, H] → Linear–Tanh–Linear → [P, 2·L·H]. */
export function projectedRows(P: number, H: number, width: number, hiddenSize: number, seed: number | string): PromptRows {
  const rng = new Rng(seed);
  const params = new Map<string, Tensor>();
  const emb = normalRows(P, H, rng, 'prefix_encoder.embedding.weight');
  params.set(emb.name!, emb);
  const t0 = torchLinear('prefix_encoder.transform.0', hiddenSize, H, rng, params);
  const t2 = torchLinear('prefix_encoder.transform.2', width, hiddenSize, rng, params);
  return {
    params, reparam: { type: 'prefix_projection', hiddenSize }, shape: [P, width],
    rows: () => linear(tanh(linear(emb, ...t0)), ...t2),
  };
}

/** The rows as one persistent tensor named prompt_embeddings (what PEFT saves; the network is dropped). */
export function foldRows(r: PromptRows): Tensor {
  const t = withScope(() => noGrad(() => r.rows().clone()));
  t.name = PROMPT_EMBEDDINGS;
  return t;
}
