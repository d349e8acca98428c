#!/usr/bin/python3
"""
The PyTorch side of `node dist/bench/torch/prompt.js` (a benchmark, never a
test dependency): a P-tuning v2 training step as P-tuning v2's own BERT code
runs it, on the exact batches the TS bench wrote to --dir. The backbone
(bert.py's BertModel computation, random weights) is frozen
(requires_grad False, so autograd computes no weight gradients) but in
train mode (dropout on, as prompt tuning runs it). Trainable: the prefix,
one [P, 2·L·H] matrix (PEFT's PREFIX_TUNING layout: row p viewed as
[2L, H] holds layer l's key at 2l and value at 2l + 1), expanded over the
batch with dropout on the whole past_key_values tensor, and a linear head
on dropout(last hidden state at token 0). Step: cross-entropy, backward,
clip_grad_norm_, AdamW (eps 1e-6, no weight decay, foreach).
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bert import mask_add_of, read, serve, setup


def main():
    args, m, c, bb = setup(frozen=True, train=True)
    L, H, P = c["layers"], c["hidden"], m["prefix_len"]
    prefix = nn.Parameter(torch.randn(P, 2 * L * H))
    head = nn.Linear(H, m["labels"])
    nn.init.normal_(head.weight, 0.0, c["init_range"])
    nn.init.zeros_(head.bias)
    drop = nn.Dropout(c["hidden_dropout"])
    params = [prefix, head.weight, head.bias]
    opt = torch.optim.AdamW(params, lr=m["lr"], betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, foreach=True)
    batches = []
    for i, b in enumerate(m["batches"]):
        B, T = b["B"], b["T"]
        ids = read(args.dir, "ids", i, np.int32, (B, T)).long()
        types = read(args.dir, "type_ids", i, np.int32, (B, T)).long()
        mask = read(args.dir, "mask", i, np.float32, (B, T))
        labels = read(args.dir, "labels", i, np.int32, (B,)).long()
        batches.append((ids, types, mask_add_of(mask, P), labels))

    def step(i):
        torch.manual_seed(1000 + i)
        ids, types, mask_add, labels = batches[i % len(batches)]
        B = ids.shape[0]
        pkv = drop(prefix.unsqueeze(0).expand(B, P, 2 * L * H)).view(B, P, 2 * L, H)
        keys = [pkv[:, :, 2 * l] for l in range(L)]
        values = [pkv[:, :, 2 * l + 1] for l in range(L)]
        h = bb.encode(types, mask_add, ids=ids, prefix=(keys, values))
        loss = F.cross_entropy(head(drop(h[:, 0])), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, m["clip"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()

    serve(m["threads"], step, {"trainable_parameters": sum(p.numel() for p in params)})


if __name__ == "__main__":
    main()
