"""
An eager BERT written the way Hugging Face's BertModel / BertForMaskedLM
computes it, shared by the PyTorch sides of the `--torch` benchmarks
(pretrain_step.py, ptuning_v2_step.py, mining_step.py):

  embeddings: word (or given embeddings) + position + token type, LayerNorm, dropout
  layer:      separate query/key/value Linear (P-tuning v2's prefix keys and
              values concatenated in front), heads split by view/permute,
              q·kᵀ/√d + additive mask, softmax, dropout, ·v, output dense,
              dropout, residual + LayerNorm; intermediate dense, exact GELU,
              output dense, dropout, residual + LayerNorm (post-LN)
  MLM head:   the masked rows only (index_select), dense, GELU, LayerNorm,
              decoder tied to the word embeddings (+ bias), cross-entropy

Weights are a seeded N(0, initializer_range) init: the timing does not
depend on their values. Also the one-JSON-line-per-command loop the TS
side drives (see bench/torch/worker.ts).
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Layer(nn.Module):
    def __init__(self, H, nh, F_, eps, p_hidden, p_attn):
        super().__init__()
        self.nh, self.hd = nh, H // nh
        self.query, self.key, self.value = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        self.attn_out, self.attn_ln = nn.Linear(H, H), nn.LayerNorm(H, eps=eps)
        self.inter, self.out = nn.Linear(H, F_), nn.Linear(F_, H)
        self.out_ln = nn.LayerNorm(H, eps=eps)
        self.drop, self.attn_drop = nn.Dropout(p_hidden), nn.Dropout(p_attn)

    def heads(self, x):
        B, T, _ = x.shape
        return x.view(B, T, self.nh, self.hd).permute(0, 2, 1, 3)

    def forward(self, h, mask_add, prefix_k=None, prefix_v=None):
        B, T, H = h.shape
        k, v = self.key(h), self.value(h)
        if prefix_k is not None:  # P-tuning v2: past key/values in front (HF's past_key_value)
            k, v = torch.cat([prefix_k, k], dim=1), torch.cat([prefix_v, v], dim=1)
        q, k, v = self.heads(self.query(h)), self.heads(k), self.heads(v)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.hd) + mask_add
        probs = self.attn_drop(torch.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(B, T, H)
        a = self.attn_ln(self.drop(self.attn_out(ctx)) + h)
        f = self.out(F.gelu(self.inter(a)))
        return self.out_ln(self.drop(f) + a)


class BertMlm(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, eps = c["hidden"], c["eps"]
        self.word = nn.Embedding(c["vocab"], H)
        self.pos = nn.Embedding(c["max_positions"], H)
        self.tok_type = nn.Embedding(c["type_vocab"], H)
        self.emb_ln = nn.LayerNorm(H, eps=eps)
        self.drop = nn.Dropout(c["hidden_dropout"])
        self.layers = nn.ModuleList(
            Layer(H, c["heads"], c["ff"], eps, c["hidden_dropout"], c["attn_dropout"]) for _ in range(c["layers"])
        )
        self.head_dense = nn.Linear(H, H)
        self.head_ln = nn.LayerNorm(H, eps=eps)
        self.decoder_bias = nn.Parameter(torch.zeros(c["vocab"]))
        std = c["init_range"]
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def encode(self, type_ids, mask_add, ids=None, embeds=None, prefix=None):
        """HF's BertModel: [B, T, H] last hidden states; prefix = (keys, values) per layer, [B, P, H] each."""
        words = self.word(ids) if embeds is None else embeds
        B, T, _ = words.shape
        P = 0 if prefix is None else prefix[0][0].shape[1]
        pos = torch.arange(P, P + T).unsqueeze(0)  # HF numbers the input after the past key/values
        h = self.drop(self.emb_ln(words + self.pos(pos) + self.tok_type(type_ids)))
        for i, layer in enumerate(self.layers):
            h = layer(h, mask_add, *(() if prefix is None else (prefix[0][i], prefix[1][i])))
        return h

    def forward(self, ids, type_ids, mask_add, label_rows, labels):
        B, T = ids.shape
        h = self.encode(type_ids, mask_add, ids=ids)
        x = h.reshape(B * T, -1).index_select(0, label_rows)
        x = self.head_ln(F.gelu(self.head_dense(x)))
        logits = F.linear(x, self.word.weight, self.decoder_bias)
        return F.cross_entropy(logits, labels)


def read(d, name, i, dtype, shape):
    return torch.from_numpy(np.fromfile(os.path.join(d, f"{name}_{i}.bin"), dtype=dtype).reshape(shape))


def mask_add_of(mask, P=0):
    """Additive mask [B, 1, 1, P + T] from a 1/0 mask [B, T] (prefix rows always attended)."""
    B, T = mask.shape
    full = torch.cat([torch.ones(B, P), mask], dim=1) if P else mask
    return ((1.0 - full) * -1e9).view(B, 1, 1, P + T).contiguous()


def serve(threads, step, info):
    """Prints the ready line, then runs {"cmd": "run", "steps": [...]} commands until quit / EOF."""
    info = {"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(), **info}
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("cmd") == "quit":
            break
        if cmd.get("cmd") == "run":
            secs = []
            for i in cmd["steps"]:
                t0 = time.perf_counter()
                step(i)
                secs.append(time.perf_counter() - t0)
            print(json.dumps({"seconds": secs}), flush=True)


def setup(frozen, train):
    """The manifest the TS bench wrote (--dir), threads and seed set, and the model (frozen: no parameter gradients)."""
    import argparse
    import json
    import os
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    m = json.load(open(os.path.join(args.dir, "manifest.json")))
    c = m["config"]
    torch.set_num_threads(m["threads"])
    torch.manual_seed(c["seed"])
    model = BertMlm(c)
    model.train(train)
    if frozen:
        for p in model.parameters():
            p.requires_grad_(False)
    return args, m, c, model
