#!/usr/bin/python3
"""
The PyTorch side of `npm run bench:mining -- --torch` (a benchmark, never a
test dependency): one PV-mining step of k fuzz loops run as one batch of
k·B rows, as src/sanitizer/mining.ts runs them, on the exact batches the TS
bench wrote to --dir. Frozen backbone (bert.py's BertModel computation,
random weights, requires_grad False, eval mode: no dropout). Per step: the
word embeddings of k copies of the batch with each loop's prompt rows
[L, E] written over its placeholder rows (the prompts are the only tensors
that require grad), the encoder forward, the hidden state at each row's
target position, and per loop j: distance = MSE(h_j, h_aux), diversity =
entropy(h_jᵀ) (softmax over the batch), loss Σ_j −distance − div·diversity;
backward; then per loop the largest |gradient| (the loop's convergence
test) and an Adam step on its prompt.
"""

import numpy as np
import torch
import torch.nn.functional as F

from bert import mask_add_of, read, serve, setup


def main():
    args, m, c, bb = setup(frozen=True, train=False)
    k, L, H = m["loops"], m["prompt_len"], c["hidden"]
    E = H
    vocab = bb.word.weight
    prompts = [torch.nn.Parameter(vocab[1000 + 10 * j * L: 1000 + 10 * j * L + L].clone()) for j in range(k)]
    opts = [torch.optim.Adam([p], lr=m["lr"], betas=(0.9, 0.999), eps=1e-8, foreach=True) for p in prompts]
    batches = []
    for i, b in enumerate(m["batches"]):
        B, T = b["B"], b["T"]
        ids = read(args.dir, "ids", i, np.int32, (B, T)).long()
        mask = read(args.dir, "mask", i, np.float32, (B, T))
        rows = read(args.dir, "prompt_rows", i, np.int32, (B * L,)).long()
        pos = read(args.dir, "target_positions", i, np.int32, (B,)).long()
        aux = read(args.dir, "aux", i, np.float32, (B, H))
        kids = ids.repeat(k, 1)
        dst = torch.cat([rows + j * B * T for j in range(k)])
        batches.append((kids, mask_add_of(mask.repeat(k, 1)), dst, pos.repeat(k), aux, B, T))

    def step(i):
        ids, mask_add, dst, pos, aux, B, T = batches[i % len(batches)]
        with torch.no_grad():
            words = bb.word(ids).reshape(k * B * T, E)
        src = torch.cat([p.unsqueeze(0).expand(B, L, E).reshape(B * L, E) for p in prompts])
        embeds = words.index_put((dst,), src).view(k * B, T, E)
        out = bb.encode(torch.zeros_like(ids), mask_add, embeds=embeds)
        h = out[torch.arange(k * B), pos]
        loss = 0.0
        for j in range(k):
            hj = h[j * B:(j + 1) * B]
            distance = F.mse_loss(hj, aux)
            ht = hj.t()
            diversity = -(torch.softmax(ht, -1) * torch.log_softmax(ht, -1)).sum(-1).mean()
            loss = loss - distance - m["div_coeff"] * diversity
        loss.backward()
        for p, o in zip(prompts, opts):
            p.grad.abs().max().item()
            o.step()
            o.zero_grad(set_to_none=True)

    serve(m["threads"], step, {"loops": k})


if __name__ == "__main__":
    main()
