#!/usr/bin/env python3
"""resflow against PyTorch, side by side in one run: alternates scripts/torch_reference.py and `resflow bench`
on the same model, shapes and thread count, and prints the ratio of every round (resflow median / PyTorch median).

  python3 scripts/vs-torch.py                                  # GPT-2 124M train step, B=4 T=64, 2 threads, jvm
  python3 scripts/vs-torch.py --rounds 3 --batch 4 --seq-len 64 --threads 2 --backend jvm:2
  python3 scripts/vs-torch.py --mode decode --new-tokens 64    # greedy decode tokens/s (resflow bench decode mode)
  python3 scripts/vs-torch.py --dtype bf16                     # both in bf16: autocast / resflow --dtype bf16

Writes vs-torch.json (every round, both sides' figures and ratios, the CPU's vector width) to --out (default
runs/vs-torch-<timestamp>/; an existing folder is refused). PyTorch is a measuring stick only: without `torch`
importable this exits 4 saying so.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_summary():
    flags = ""
    name = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags") and not flags:
                    flags = line
                if line.startswith("model name") and not name:
                    name = line.split(":", 1)[1].strip()
    except OSError:
        pass
    isa = "AVX-512" if " avx512f" in flags else ("AVX2" if " avx2" in flags else "no AVX2")
    return {"cpu": name, "isa": isa, "cpus": os.cpu_count()}


def run_torch(a, out_dir, rnd):
    cmd = [sys.executable, os.path.join(ROOT, "scripts", "torch_reference.py"), "--threads", str(a.threads),
           "--warmup", str(a.warmup), "--repeats", str(a.repeats), "--lr", str(a.lr),
           "--json", os.path.join(out_dir, "torch-%d.json" % rnd), "--dtype", a.dtype]
    if a.mode == "train":
        cmd += ["--mode", "train", "--batch", str(a.batch), "--seq-len", str(a.seq_len)]
    else:
        cmd += ["--mode", "generate", "--prompt-len", str(a.prompt_len), "--new-tokens", str(a.new_tokens)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode == 4:
        raise SystemExit("vs-torch: torch is not importable here; nothing to compare with "
                         "(pip install torch transformers, or compare with llm.c)")
    if p.returncode != 0:
        raise SystemExit("vs-torch: torch_reference.py failed (exit %d):\n%s" % (p.returncode, p.stderr[-2000:]))
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_resflow(a, out_dir, rnd):
    cfg = {
        "name": "vs-torch",
        "models": [{"name": "gpt2-small", "model": os.path.join(ROOT, "configs", "models", "gpt2-small.json"),
                    "batch": a.batch if a.mode == "train" else 1, "seq_len": a.seq_len}],
        "backends": [a.backend],
        "modes": [a.mode],
        "warmup": a.warmup,
        "repeats": a.repeats,
        "max_seconds_per_cell": 0,
        "check": a.check,
    }
    if a.mode == "decode":
        cfg["prompt_len"] = a.prompt_len
        cfg["new_tokens"] = a.new_tokens
    cfg_path = os.path.join(out_dir, "bench-config.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=1)
    bench_dir = os.path.join(out_dir, "bench-%d" % rnd)
    env = dict(os.environ)
    p = subprocess.run([os.path.join(ROOT, "resflow"), "bench", cfg_path, "--out", bench_dir, "--dtype", a.dtype],
                       capture_output=True,
                       text=True, env=env)
    if p.returncode != 0:
        raise SystemExit("vs-torch: resflow bench failed (exit %d):\n%s%s" % (p.returncode, p.stdout[-3000:],
                                                                             p.stderr[-2000:]))
    with open(os.path.join(bench_dir, "bench.json")) as f:
        b = json.load(f)
    cell = b["cells"][0]
    if cell.get("status") != "ok":
        raise SystemExit("vs-torch: resflow cell %s: %s" % (cell.get("status"), cell.get("reason")))
    return cell


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["train", "decode"], default="train")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backend", default=None, help="resflow backend (default jvm:<threads>)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--prompt-len", type=int, default=16)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--check", default="reduced", help="resflow bench's check of its cell (reduced, none, ...)")
    p.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32",
                   help="bf16: PyTorch under torch.autocast(bfloat16), resflow bench --dtype bf16")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    if a.rounds < 1 or a.threads < 1 or a.repeats < 1 or a.warmup < 0:
        p.error("--rounds, --threads and --repeats must be at least 1, --warmup at least 0")
    a.backend = a.backend or "jvm:%d" % a.threads
    out_dir = a.out or os.path.join(ROOT, "runs", "vs-torch-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    if os.path.exists(out_dir):
        raise SystemExit("vs-torch: %s already exists; choose another --out" % out_dir)
    os.makedirs(out_dir)
    host = cpu_summary()
    print("vs-torch: %s, %s, %d CPUs; %s %s, %d threads; %s%s" % (
        host["cpu"], host["isa"], host["cpus"], a.mode, a.dtype, a.threads,
        "B=%d T=%d" % (a.batch, a.seq_len) if a.mode == "train" else "prompt %d, %d new tokens" % (a.prompt_len, a.new_tokens),
        ", resflow " + a.backend))
    rounds = []
    for r in range(1, a.rounds + 1):
        t = run_torch(a, out_dir, r)
        c = run_resflow(a, out_dir, r)
        if a.mode == "train":
            ratio = c["median_ms"] / t["median_ms"]
            line = ("round %d: PyTorch %s %.1f ms (peak RSS %.0f MiB) | resflow %s %.1f ms (peak RSS %.0f MiB) | "
                    "resflow/PyTorch %.3f" % (r, t["model"], t["median_ms"], t["peak_rss_mb"], c["backend"],
                                              c["median_ms"], c["peak_rss_mb"], ratio))
        else:
            ratio = c["tokens_per_s"] / t["tokens_per_s"]
            line = ("round %d: PyTorch generate %.1f tok/s (TTFT %.1f ms) | resflow %s %.1f tok/s (TTFT %.1f ms) | "
                    "resflow/PyTorch tokens/s %.3f" % (r, t["tokens_per_s"], t["ttft_ms"], c["backend"],
                                                       c["tokens_per_s"], c.get("ttft_ms", float("nan")), ratio))
        print(line, flush=True)
        rounds.append({"round": r, "torch": t, "resflow": c, "ratio": ratio})
    ratios = [x["ratio"] for x in rounds]
    summary = {"host": host, "mode": a.mode, "dtype": a.dtype, "threads": a.threads, "batch": a.batch, "seq_len": a.seq_len,
               "backend": a.backend, "vector": rounds[0]["resflow"].get("backend_description"),
               "ratio_median": statistics.median(ratios), "ratios": ratios, "rounds": rounds,
               "ratio_meaning": "resflow median step time / PyTorch median step time" if a.mode == "train"
               else "resflow tokens/s / PyTorch tokens/s"}
    with open(os.path.join(out_dir, "vs-torch.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("vs-torch: median ratio %.3f (%s); resflow %s; wrote %s" % (
        summary["ratio_median"], summary["ratio_meaning"], summary["vector"], os.path.join(out_dir, "vs-torch.json")))


if __name__ == "__main__":
    main()
