#!/usr/bin/python3
"""
The PyTorch side of `npm run bench:pretrain -- --torch` (a benchmark, never a
test dependency): BertMlm (bert.py, Hugging Face's computation) trained one
step per command on the exact masked batches the TS bench wrote to --dir:
forward, cross-entropy at the masked rows, backward, clip_grad_norm_, AdamW
(no decay on biases and LayerNorm, eps 1e-6, foreach), zero_grad(set_to_none).
Dropout on (train mode), seeded per step.
"""

import numpy as np
import torch

from bert import mask_add_of, read, serve, setup


def main():
    args, m, c, model = setup(frozen=False, train=True)
    named = list(model.named_parameters())
    no_decay = lambda n: n.endswith("bias") or "_ln" in n
    opt = torch.optim.AdamW(
        [{"params": [p for n, p in named if not no_decay(n)], "weight_decay": m["weight_decay"]},
         {"params": [p for n, p in named if no_decay(n)], "weight_decay": 0.0}],
        lr=m["lr"], betas=(0.9, 0.999), eps=1e-6, foreach=True,
    )
    params = [p for _, p in named]
    batches = []
    for i, b in enumerate(m["batches"]):
        B, T, N = b["B"], b["T"], b["N"]
        ids = read(args.dir, "ids", i, np.int32, (B, T)).long()
        mask = read(args.dir, "mask", i, np.float32, (B, T))
        rows = read(args.dir, "label_rows", i, np.int32, (N,)).long()
        labels = read(args.dir, "labels", i, np.int32, (N,)).long()
        batches.append((ids, torch.zeros_like(ids), mask_add_of(mask), rows, labels))

    def step(i):
        torch.manual_seed(1000 + i)
        loss = model(*batches[i])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, m["clip"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()

    serve(m["threads"], step, {"parameters": sum(p.numel() for p in params)})


if __name__ == "__main__":
    main()
