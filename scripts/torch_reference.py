#!/usr/bin/env python3
"""PyTorch measuring stick for resflow (as llm.c keeps train_gpt2.py beside its C). Never a dependency of resflow.

Times, in one process:
  train     forward + backward + torch.optim.AdamW step of GPT-2 (124M by default) on fixed random tokens;
  generate  Hugging Face generate() at batch 1, greedy, with its KV cache (needs transformers).

The model is Hugging Face's GPT2LMHeadModel (attn_implementation="eager", dropout 0, tied embeddings) when
transformers is importable, else the same network in plain torch.nn (train mode only). Float32 throughout; on CUDA
TF32 is switched off so the numbers are fp32 numbers. No torch.compile. Prints one JSON object on the last line of
stdout (and writes it to --json FILE when given): the median step time, every step time, peak memory, versions.

  python3 scripts/torch_reference.py --mode train --batch 4 --seq-len 64 --threads 2
  python3 scripts/torch_reference.py --mode generate --prompt-len 16 --new-tokens 64 --threads 2
  python3 scripts/torch_reference.py --model testvectors/gpt2-tiny --mode generate --prompt-ids 1,2,3
"""
import argparse
import contextlib
import json
import math
import os
import platform
import resource
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # the caller (scripts/vs-torch) reports this as "torch missing"
    print(json.dumps({"error": "torch is not importable"}))
    sys.exit(4)

GPT2_SMALL = dict(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["train", "generate"], default="train")
    p.add_argument("--model", default="gpt2-small",
                   help="gpt2-small (random init, seeded) or a Hugging Face folder with config.json "
                        "(weights from model.safetensors when present)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--prompt-len", type=int, default=16, help="generate: random prompt length")
    p.add_argument("--prompt-ids", default=None, help="generate: comma-separated prompt ids (overrides --prompt-len)")
    p.add_argument("--new-tokens", type=int, default=64, help="generate: tokens to generate")
    p.add_argument("--plain", action="store_true", help="use the plain torch.nn GPT-2 even if transformers exists")
    p.add_argument("--json", default=None, help="also write the result object to this file")
    p.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32",
                   help="bf16: forward (and, in train, the loss) under torch.autocast(dtype=torch.bfloat16), "
                        "fp32 master weights and AdamW state, as resflow's --dtype bf16")
    a = p.parse_args()
    for name in ("batch", "seq_len", "repeats", "new_tokens", "prompt_len"):
        if getattr(a, name) <= 0:
            p.error("--%s must be positive" % name.replace("_", "-"))
    if a.warmup < 0 or a.threads < 0:
        p.error("--warmup and --threads must not be negative")
    return a


# ---- the plain torch.nn GPT-2 (same math as HF's GPT2LMHeadModel with dropout 0) ----

class Block(nn.Module):
    def __init__(self, c, nh):
        super().__init__()
        self.nh = nh
        self.ln_1 = nn.LayerNorm(c, eps=1e-5)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c, eps=1e-5)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.nh, C // self.nh).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.nh)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class PlainGPT2(nn.Module):
    def __init__(self, n_layer, n_embd, n_head, vocab_size, n_positions):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(n_positions, n_embd)
        self.h = nn.ModuleList(Block(n_embd, n_head) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd, eps=1e-5)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, idx, labels):
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for b in self.h:
            x = b(x)
        logits = self.ln_f(x) @ self.wte.weight.t()  # tied head
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))
        return loss


def have_transformers():
    try:
        import transformers  # noqa: F401
        return True
    except ImportError:
        return False


def build(a):
    """Returns (model, kind, vocab, max_positions, config_summary)."""
    if a.model != "gpt2-small":
        if not have_transformers():
            raise SystemExit("--model %s needs transformers" % a.model)
        from transformers import AutoConfig, AutoModelForCausalLM
        cfg = AutoConfig.from_pretrained(a.model)
        has_weights = any(os.path.exists(os.path.join(a.model, f))
                          for f in ("model.safetensors", "pytorch_model.bin"))
        kw = dict(attn_implementation="eager", dtype=torch.float32)
        for k in ("resid_pdrop", "embd_pdrop", "attn_pdrop", "attention_dropout"):
            if hasattr(cfg, k):
                setattr(cfg, k, 0.0)
        if has_weights:
            m = AutoModelForCausalLM.from_pretrained(a.model, config=cfg, **kw)
        else:
            m = AutoModelForCausalLM.from_config(cfg, **kw)
        vocab = cfg.vocab_size
        maxpos = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings")
        return m, "hf-" + cfg.model_type, vocab, maxpos, {"path": os.path.abspath(a.model), "weights": has_weights}
    if have_transformers() and not a.plain:
        from transformers import AutoModelForCausalLM, GPT2Config
        cfg = GPT2Config(**GPT2_SMALL, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True)
        m = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager", dtype=torch.float32)
        return m, "hf-gpt2", cfg.vocab_size, cfg.n_positions, dict(GPT2_SMALL)
    if a.mode == "generate":
        raise SystemExit("--mode generate needs transformers (HF generate with its KV cache)")
    return PlainGPT2(**GPT2_SMALL), "plain-torch-gpt2", GPT2_SMALL["vocab_size"], GPT2_SMALL["n_positions"], dict(GPT2_SMALL)


def peak_memory(device):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    out = {"peak_rss_mb": rss}
    if device == "cuda":
        out["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 1048576.0
    return out


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def autocast(a):
    """bf16 autocast on the run's device for --dtype bf16, else nothing."""
    if a.dtype == "bf16":
        return torch.autocast(a.device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train(a, model, kind, vocab, maxpos):
    if a.seq_len > maxpos:
        raise SystemExit("--seq-len %d is longer than the model's %d positions" % (a.seq_len, maxpos))
    dev = torch.device(a.device)
    model.to(dev).train()
    g = torch.Generator().manual_seed(a.seed)
    tokens = torch.randint(0, vocab, (a.batch, a.seq_len), generator=g).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    times, losses = [], []
    for i in range(a.warmup + a.repeats):
        sync(a.device)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with autocast(a):
            if kind.startswith("hf"):
                loss = model(input_ids=tokens, labels=tokens).loss
            else:
                loss = model(tokens, tokens)
        loss.backward()
        opt.step()
        sync(a.device)
        dt = (time.perf_counter() - t0) * 1e3
        losses.append(loss.item())
        if i >= a.warmup:
            times.append(dt)
    return {"step_ms": times, "median_ms": statistics.median(times), "losses": losses,
            "tokens_per_s": a.batch * a.seq_len / (statistics.median(times) / 1e3)}


def generate(a, model, kind, vocab, maxpos):
    dev = torch.device(a.device)
    model.to(dev).eval()
    if a.prompt_ids:
        try:
            prompt = [int(x) for x in a.prompt_ids.split(",") if x.strip()]
        except ValueError:
            raise SystemExit("--prompt-ids: comma-separated integers expected")
    else:
        g = torch.Generator().manual_seed(a.seed)
        prompt = torch.randint(0, vocab, (a.prompt_len,), generator=g).tolist()
    if not prompt or len(prompt) + a.new_tokens > maxpos:
        raise SystemExit("prompt of %d plus %d new tokens does not fit %d positions" % (len(prompt), a.new_tokens, maxpos))
    ids = torch.tensor([prompt], device=dev)
    mask = torch.ones_like(ids)
    # eos is switched off so that every run generates exactly --new-tokens tokens
    kw = dict(do_sample=False, max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens, use_cache=True,
              attention_mask=mask, pad_token_id=0, eos_token_id=None)
    times, ttft, out = [], [], None
    with torch.no_grad():
        for i in range(a.warmup + a.repeats):
            sync(a.device)
            t0 = time.perf_counter()
            with autocast(a):
                model(input_ids=ids, attention_mask=mask, use_cache=True)  # time to first token: the prompt's forward
            sync(a.device)
            t1 = time.perf_counter()
            with autocast(a):
                out = model.generate(ids, **kw)
            sync(a.device)
            t2 = time.perf_counter()
            if i >= a.warmup:
                ttft.append((t1 - t0) * 1e3)
                times.append((t2 - t1) * 1e3)
    med = statistics.median(times)
    return {"generate_ms": times, "median_ms": med, "ttft_ms": statistics.median(ttft),
            "tokens_per_s": a.new_tokens / (med / 1e3), "prompt_ids": prompt,
            "ids": out[0].tolist()}


def main():
    a = parse_args()
    if a.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device visible to torch")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model, kind, vocab, maxpos, summary = build(a)
    params = sum(p.numel() for p in model.parameters())
    res = {"tool": "torch_reference", "mode": a.mode, "model": kind, "model_config": summary, "params": params,
           "device": a.device, "threads": torch.get_num_threads(), "batch": a.batch, "seq_len": a.seq_len,
           "dtype": "float32" if a.dtype == "fp32" else "bfloat16 autocast, float32 master weights", "tf32": False, "warmup": a.warmup, "repeats": a.repeats, "lr": a.lr,
           "weight_decay": a.weight_decay, "torch": torch.__version__, "python": platform.python_version(),
           "cpu": platform.processor() or platform.machine()}
    if have_transformers():
        import transformers
        res["transformers"] = transformers.__version__
    if a.device == "cuda":
        res["gpu"] = torch.cuda.get_device_name(0)
        res["cuda"] = torch.version.cuda
    if a.mode == "train":
        res.update(train(a, model, kind, vocab, maxpos))
    else:
        if a.batch != 4:
            print("note: generate runs at batch 1", file=sys.stderr)
        res["batch"] = 1
        res.update(generate(a, model, kind, vocab, maxpos))
    res.update(peak_memory(a.device))
    line = json.dumps(res)
    if a.json:
        with open(a.json, "w") as f:
            f.write(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
