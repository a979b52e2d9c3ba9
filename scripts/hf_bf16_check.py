#!/usr/bin/env python3
"""Hugging Face transformers under torch.autocast("cpu", dtype=torch.bfloat16) on a test-vector folder: an
implementation nobody here wrote, for resflow's bf16 mode to be compared with (runner's HfBf16Test). Never a
dependency of resflow.

Loads DIR (config.json, model.safetensors) with AutoModelForCausalLM in fp32 (the master weights), runs the folder's
inputs under autocast and prints one JSON object on the last line of stdout:
  logits      the [B*T*V] logits as float32 (autocast's bf16 logits widened), row-major
  loss        mean cross-entropy over the folder's explicit targets (no shift), computed in fp32 from those logits
  fp32_loss   the same forward without autocast
  ids         greedy generate(do_sample=False) under autocast from --prompt-ids, --new-tokens new tokens
  margins     for each generated token, the fp32 model's top-1 minus top-2 logit at that step (teacher-forced on
              the bf16 ids), so a caller can tell which steps a bf16 rounding could flip
  versions

  python3 scripts/hf_bf16_check.py testvectors/gpt2-tiny --prompt-ids 1,2,3 --new-tokens 12
"""
import argparse
import json
import sys

try:
    import torch
    import torch.nn.functional as F
    import transformers
    from safetensors.torch import load_file
except ImportError as e:
    print(json.dumps({"error": "not importable: " + str(e)}))
    sys.exit(4)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir")
    p.add_argument("--prompt-ids", default="1,2,3")
    p.add_argument("--new-tokens", type=int, default=12)
    p.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    a = p.parse_args()
    torch.set_num_threads(1)
    model = transformers.AutoModelForCausalLM.from_pretrained(a.dir, torch_dtype=torch.float32,
                                                              attn_implementation=a.attn)
    model.eval()
    vec = load_file(a.dir + "/vectors.safetensors")
    inputs = vec["inputs"].long()
    targets = vec["targets"].long()
    with torch.no_grad():
        fp32 = model(inputs).logits.float()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(inputs).logits
        logits = out.float()
    V = logits.shape[-1]
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1)).item()
    fp32_loss = F.cross_entropy(fp32.reshape(-1, V), targets.reshape(-1)).item()
    prompt = torch.tensor([[int(x) for x in a.prompt_ids.split(",")]])
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        gen = model.generate(prompt, max_new_tokens=a.new_tokens, do_sample=False, min_new_tokens=a.new_tokens,
                             pad_token_id=0, eos_token_id=None)
    ids = gen[0].tolist()
    margins = []
    with torch.no_grad():
        full = model(gen).logits.float()[0]
    P = prompt.shape[1]
    for t in range(P - 1, len(ids) - 1):
        top = torch.topk(full[t], 2).values
        margins.append((top[0] - top[1]).item())
    print(json.dumps({"logits": logits.reshape(-1).tolist(), "loss": loss, "fp32_loss": fp32_loss,
                      "dtype_of_logits": str(out.dtype), "ids": ids, "margins": margins,
                      "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}))


if __name__ == "__main__":
    main()
