#!/usr/bin/env python3
"""Loads Hugging Face folders (e.g. `resflow export` results) with transformers' from_pretrained and writes logits.

usage: hf_load_check.py DIR IDS OUT [DIR IDS OUT ...]
  DIR  a folder (config.json, model.safetensors)
  IDS  comma-separated token ids (one sequence)
  OUT  file for the logits: float32 little-endian, shape (len(IDS), vocab_size)
Prints one JSON line per folder: the folder, the model class and the loading info that is not empty (missing,
unexpected or mismatched tensors, errors), and when the folder has a tokenizer.json, the ids AutoTokenizer gives
the text in the environment variable HF_CHECK_TEXT (no special tokens added) as "text_ids".
Exit 0 when every folder loads with none of them, 1 otherwise.
"""
import os
import json
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM


def check(folder, ids, out):
    model, info = AutoModelForCausalLM.from_pretrained(folder, output_loading_info=True, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float().numpy()
    np.ascontiguousarray(logits, dtype="<f4").tofile(out)
    problems = {k: sorted(str(x) for x in v) for k, v in info.items() if v}
    line = {"folder": folder, "class": type(model).__name__, "problems": problems, "shape": list(logits.shape)}
    if os.path.exists(os.path.join(folder, "tokenizer.json")) and "HF_CHECK_TEXT" in os.environ:
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(folder)
        line["text_ids"] = tok(os.environ["HF_CHECK_TEXT"], add_special_tokens=False).input_ids
    print(json.dumps(line), flush=True)
    return not problems


def main(args):
    if len(args) == 0 or len(args) % 3 != 0:
        print(__doc__, file=sys.stderr)
        return 2
    ok = True
    for i in range(0, len(args), 3):
        ok &= check(args[i], [int(t) for t in args[i + 1].split(",")], args[i + 2])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
