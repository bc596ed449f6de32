"""PyTorch twin of the Rust bench `crates/train/benches/model.rs`.

The model is the same Llama-family transformer: RMSNorm, half-split rotary
embedding, grouped-query attention, SwiGLU MLP, untied output head, weights
drawn from N(0, 0.02). Training runs forward, masked cross-entropy, backward
and one AdamW step (decay 0.1 on matrices, none on norm scales) per batch of
16 x 256 random tokens. Sampling decodes greedily with a KV cache, batch 32.

Usage: python bench/model_peer.py MODE HIDDEN LAYERS, with MODE train or
sample. Prints one `MODE HIDDEN LAYERS tokens_per_second` line.
"""

import math
import sys
import time

import torch
import torch.nn.functional as F

VOCAB_SIZE = 256
TRAIN_BATCH, TRAIN_SEQ, TRAIN_STEPS = 16, 256, 4
SAMPLE_BATCH, PROMPT_TOKENS, SAMPLE_TOKENS = 32, 8, 128
# hidden size -> (heads, key/value heads, MLP width) of the Rust presets `base` and `large`
PRESETS = {256: (8, 4, 1024), 512: (8, 4, 1792)}
EPS = 1e-6
THETA = 10_000.0


class RmsNorm(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * self.weight


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class Block(torch.nn.Module):
    def __init__(self, d, heads, kv_heads, ff):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, d // heads
        self.q_proj = torch.nn.Linear(d, heads * self.head_dim, bias=False)
        self.k_proj = torch.nn.Linear(d, kv_heads * self.head_dim, bias=False)
        self.v_proj = torch.nn.Linear(d, kv_heads * self.head_dim, bias=False)
        self.o_proj = torch.nn.Linear(heads * self.head_dim, d, bias=False)
        self.gate_proj = torch.nn.Linear(d, ff, bias=False)
        self.up_proj = torch.nn.Linear(d, ff, bias=False)
        self.down_proj = torch.nn.Linear(ff, d, bias=False)
        self.input_layernorm = RmsNorm(d)
        self.post_attention_layernorm = RmsNorm(d)

    def forward(self, x, cos, sin, cache):
        b, s, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(h).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        if cache is not None:
            if cache:
                k = torch.cat([cache[0], k], dim=2)
                v = torch.cat([cache[1], v], dim=2)
            cache[:] = [k, v]
        group = self.heads // self.kv_heads
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        # Causal only when the queries start at key 0, because a decoding step attends to every
        # cached key.
        context = F.scaled_dot_product_attention(q, k, v, is_causal=s > 1)
        x = x + self.o_proj(context.transpose(1, 2).reshape(b, s, -1))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(torch.nn.Module):
    def __init__(self, d, layers):
        super().__init__()
        heads, kv_heads, ff = PRESETS[d]
        self.head_dim = d // heads
        self.embed_tokens = torch.nn.Embedding(VOCAB_SIZE, d)
        self.layers = torch.nn.ModuleList(Block(d, heads, kv_heads, ff) for _ in range(layers))
        self.norm = RmsNorm(d)
        self.lm_head = torch.nn.Linear(d, VOCAB_SIZE, bias=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)

    def rotary(self, start, length):
        half = self.head_dim // 2
        inv_freq = THETA ** (-torch.arange(half, dtype=torch.float64) * 2 / self.head_dim)
        angles = torch.arange(start, start + length, dtype=torch.float64)[:, None] * inv_freq
        angles = torch.cat([angles, angles], dim=-1).float()
        return angles.cos(), angles.sin()

    def forward(self, ids, start=0, caches=None):
        cos, sin = self.rotary(start, ids.shape[1])
        x = self.embed_tokens(ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, None if caches is None else caches[i])
        return self.lm_head(self.norm(x))


def train(d, layers):
    torch.manual_seed(1)
    model = Llama(d, layers)
    decayed = [p for p in model.parameters() if p.dim() >= 2]
    undecayed = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decayed, "weight_decay": 0.1}, {"params": undecayed, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    ids = torch.randint(VOCAB_SIZE, (TRAIN_BATCH, TRAIN_SEQ + 1))
    inputs, targets = ids[:, :-1], ids[:, 1:]
    loss_mask = torch.ones(TRAIN_BATCH, TRAIN_SEQ)
    for step in range(TRAIN_STEPS + 1):
        if step == 1:
            start = time.perf_counter()
        logits = model(inputs)
        token_loss = F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), targets.reshape(-1), reduction="none")
        loss = (token_loss * loss_mask.reshape(-1)).sum() / loss_mask.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return TRAIN_STEPS * TRAIN_BATCH * TRAIN_SEQ / (time.perf_counter() - start)


@torch.inference_mode()
def generate(model, prompts, new_tokens):
    caches = [[] for _ in model.layers]
    logits = model(prompts, 0, caches)
    token = logits[:, -1].argmax(-1, keepdim=True)
    for i in range(1, new_tokens):
        logits = model(token, prompts.shape[1] + i - 1, caches)
        token = logits[:, -1].argmax(-1, keepdim=True)


def sample(d, layers):
    torch.manual_seed(1)
    model = Llama(d, layers).eval()
    rows = torch.arange(SAMPLE_BATCH)[:, None]
    prompts = (rows * 7 + torch.arange(PROMPT_TOKENS)) % VOCAB_SIZE
    generate(model, prompts, 2)
    start = time.perf_counter()
    generate(model, prompts, SAMPLE_TOKENS)
    return SAMPLE_BATCH * SAMPLE_TOKENS / (time.perf_counter() - start)


def main():
    mode, d, layers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rate = {"train": train, "sample": sample}[mode](d, layers)
    print(f"{mode} {d} {layers} {rate:.1f}")


if __name__ == "__main__":
    main()
