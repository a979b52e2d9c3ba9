#!/usr/bin/env python3
"""The report of scripts/gpu-run.sh: reads what its steps left in the work folder and writes gpu-run.json and
gpu-run.md (machine, bundle, steps, devices, check summary per device and folder, train-step times beside PyTorch's
with the ratios).

  python3 scripts/gpu_report.py WORK OUTDIR
  python3 scripts/gpu_report.py --cells BENCH_JSON BENCH_CONFIG
  python3 scripts/gpu_report.py --models BENCH_CONFIG

--cells: whether every model of the bench config has a cell in bench.json that ran (status ok) and matched its check
(bench itself exits 0 for a skipped or unchecked cell); prints one line, exit 0 yes, 1 a check did not match, 3 a cell
is missing, skipped, failed or was not checked (or no bench.json).
--models: whether every model of a bench config names a model file or folder that exists (--local checks the GPU's
configs/bench-gpu.json so, without the minutes a GPT-2 124M bench would take here); exit 0 yes, 2 no.

WORK holds facts.tsv (key, value), steps.tsv (step, status, exit code, seconds, note), devices.log and
selected.tsv (spec, kind, name of the devices the run used), check-<dev>.log, bench-<dev>/bench.json,
torch-B<b>-T<t>.json and MANIFEST.json; any of them may be missing when its step did not run.
"""
import glob
import json
import os
import re
import sys

CHECK_LINE = re.compile(r"^(?P<folder>\S+) on (?P<backend>\S+): (?P<result>PASS|FAIL), (?P<passed>\d+) of (?P<total>\d+) tensors passed")


def read_tsv(path, ncols):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 2:
                    rows.append((parts + [""] * ncols)[:ncols])
    return rows


def read_json(path):
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:  # torch_reference prints one JSON object on its last line
        try:
            return json.loads(text.splitlines()[-1])
        except ValueError:
            return None


def safe(spec):
    return spec.replace(":", "-")


def checks(work, spec):
    rows = []
    path = os.path.join(work, "check-%s.log" % safe(spec))
    if os.path.exists(path):
        with open(path, errors="replace") as f:
            for line in f:
                m = CHECK_LINE.match(line.strip())
                if m:
                    rows.append({"folder": os.path.basename(m["folder"].rstrip("/")), "result": m["result"],
                                 "passed": int(m["passed"]), "tensors": int(m["total"])})
    return rows


def oracle_folders(root):
    base = os.path.join(root, "testvectors")
    return sorted(d for d in os.listdir(base) if os.path.isfile(os.path.join(base, d, "config.json"))) \
        if os.path.isdir(base) else []


def bench_cells(work, spec):
    b = read_json(os.path.join(work, "bench-%s" % safe(spec), "bench.json"))
    return b.get("cells", []) if b else []


def fmt(x, digits=1):
    return "-" if x is None else ("%.*f" % (digits, x))


def cells_verdict(path, config):
    want = [m["name"] for m in read_json(config)["models"]]
    b = read_json(path)
    if not b or "cells" not in b:
        return 3, "no bench.json at %s" % path
    cells = {c.get("model"): c for c in b["cells"]}
    bad, code = [], 0
    for name in want:
        c = cells.get(name)
        check = (c or {}).get("check") or {}
        if c is None:
            bad.append(name + ": missing")
            code = 3
        elif c.get("status") != "ok":
            bad.append("%s: %s %s" % (name, c.get("status"), c.get("reason") or ""))
            code = 3
        elif check.get("matched") is not True:
            bad.append("%s: %s" % (name, check.get("note") or "not checked"))
            code = max(code, 1 if check.get("matched") is False else 3)
    return code, "; ".join(bad) if bad else "%d of %d cells ran and matched their check" % (len(want), len(want))


def models_verdict(config):
    c = read_json(config)
    if not c or not c.get("models"):
        return 2, "%s: no models" % config
    base = os.path.dirname(os.path.abspath(config))
    bad = [m.get("name", "?") + ": " + str(m.get("model")) for m in c["models"]
           if not m.get("model") or not os.path.exists(os.path.join(base, m["model"]))]
    if bad:
        return 2, "%s: model not found: %s" % (config, "; ".join(bad))
    return 0, "%s: %d models, all found" % (config, len(c["models"]))


def main():
    if sys.argv[1] == "--models":
        code, line = models_verdict(sys.argv[2])
        print(line)
        sys.exit(code)
    if sys.argv[1] == "--cells":
        code, line = cells_verdict(sys.argv[2], sys.argv[3])
        print(line)
        sys.exit(code)
    work, outdir = sys.argv[1], sys.argv[2]
    folders = oracle_folders(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    facts = dict((k, v) for k, v in read_tsv(os.path.join(work, "facts.tsv"), 2))
    steps = [{"step": s, "status": st, "exit_code": int(rc) if rc.lstrip("-").isdigit() else None,
              "seconds": float(sec) if sec else None, "note": note}
             for s, st, rc, sec, note in read_tsv(os.path.join(work, "steps.tsv"), 5)]
    devices = [{"spec": s, "kind": k, "name": n} for s, k, n in read_tsv(os.path.join(work, "selected.tsv"), 3)]
    manifest = read_json(os.path.join(work, "MANIFEST.json")) or {}
    torch = {}
    for p in sorted(glob.glob(os.path.join(work, "torch-B*-T*.json"))):
        r = read_json(p)
        if r:
            torch[(r.get("batch"), r.get("seq_len"))] = r
    per_device = []
    rows = []
    for d in devices:
        cells = bench_cells(work, d["spec"])
        seen = checks(work, d["spec"])
        missing = [f for f in folders if f not in {c["folder"] for c in seen}]
        per_device.append({**d, "checks": seen, "folders_not_reported": missing, "bench": cells})
        for c in cells:
            t = torch.get((c.get("batch"), c.get("seq_len")))
            mine = c.get("median_ms") if c.get("status") == "ok" else None
            ref = t.get("median_ms") if t else None
            rows.append({"model": c.get("model"), "batch": c.get("batch"), "seq_len": c.get("seq_len"),
                         "device": d["spec"], "device_kind": d["kind"], "device_name": d["name"],
                         "status": c.get("status"), "reason": c.get("reason"),
                         "resflow_ms": mine, "resflow_spread_ms": c.get("spread_ms"),
                         "tokens_per_s": c.get("tokens_per_s"), "gflops": c.get("gflops"),
                         "check": (c.get("check") or {}).get("against"),
                         "matched": (c.get("check") or {}).get("matched"),
                         "torch_ms": ref, "torch_device": t.get("gpu") or t.get("device") if t else None,
                         "ratio_resflow_over_torch": (mine / ref) if mine and ref else None})
    report = {"format": "resflow-gpu-run-1", "mode": facts.get("mode"), "facts": facts, "steps": steps,
              "bundle": {k: manifest.get(k) for k in ("created", "commit", "sources_dirty", "sdk_release",
                                                      "sdk_backends", "ptx", "total_bytes")},
              "devices": per_device, "torch": list(torch.values()), "train_steps": rows}
    with open(os.path.join(outdir, "gpu-run.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    md = ["# resflow GPU run (%s mode), %s" % (facts.get("mode", "?"), facts.get("date", "?")), ""]
    md += ["## Machine", "", "| what | seen |", "| --- | --- |"]
    for k, v in facts.items():
        if k not in ("mode", "date"):
            md.append("| %s | %s |" % (k, v.replace("|", "/")))
    md += ["", "Bundle: commit %s%s, made %s, TornadoVM %s (%s), PTX in the SDK: %s." % (
        manifest.get("commit", "?"), " (with uncommitted changes)" if manifest.get("sources_dirty") else "",
        manifest.get("created", "?"), (manifest.get("sdk_release") or "?").split("\n")[0],
        manifest.get("sdk_backends") or "?", "yes" if manifest.get("ptx") else "no"), ""]
    md += ["## Steps", "", "| step | status | exit | seconds | note |", "| --- | --- | ---: | ---: | --- |"]
    for s in steps:
        md.append("| %s | %s | %s | %s | %s |" % (s["step"], s["status"], "" if s["exit_code"] is None else s["exit_code"],
                                                fmt(s["seconds"]), s["note"].replace("|", "/")))
    md += ["", "## Devices used", ""]
    if devices:
        md += ["| device | kind | name |", "| --- | --- | --- |"]
        md += ["| %s | %s | %s |" % (d["spec"], d["kind"], d["name"]) for d in devices]
    else:
        md.append("None: no device of the kind this mode runs on was listed (see the log's devices step).")
    md += ["", "## Checks against the oracle folders (testvectors/)", ""]
    md += ["| device | folder | result | tensors passed |", "| --- | --- | --- | ---: |"]
    for d in per_device:
        for c in d["checks"]:
            md.append("| %s | %s | %s | %d of %d |" % (d["spec"], c["folder"], c["result"], c["passed"], c["tensors"]))
        for f in d["folders_not_reported"]:
            md.append("| %s | %s | not reported (the check stopped before it; see the step table) | |" % (d["spec"], f))
    md += ["", "## Training step (forward, backward, AdamW), resflow beside PyTorch", ""]
    md += ["PyTorch: scripts/torch_reference.py, float32, TF32 off, eager, the same shapes on the same machine"
           " (%s). Ratio = resflow median / PyTorch median (above 1: resflow slower)." % (
               ", ".join(sorted({"%s on %s" % (t.get("torch", "?"), t.get("gpu") or t.get("device")) for t in torch.values()}))
               or "not run"), ""]
    md += ["| model | B | T | device | resflow ms (median +- spread) | tokens/s | check | PyTorch ms | ratio |",
           "| --- | ---: | ---: | --- | ---: | ---: | --- | ---: | ---: |"]
    for r in rows:
        if r["status"] != "ok":
            md.append("| %s | %s | %s | %s | %s: %s | | | %s | |" % (r["model"], r["batch"], r["seq_len"], r["device"],
                      r["status"], (r["reason"] or "").replace("|", "/")[:200], fmt(r["torch_ms"])))
            continue
        check = "%s %s" % ("matched" if r["matched"] else ("MISMATCH vs" if r["matched"] is False else "not checked:"),
                           r["check"])
        md.append("| %s | %d | %d | %s | %.1f +- %.1f | %.0f | %s | %s | %s |" % (
            r["model"], r["batch"], r["seq_len"], r["device"], r["resflow_ms"], r["resflow_spread_ms"] or 0,
            r["tokens_per_s"] or 0, check, fmt(r["torch_ms"]), fmt(r["ratio_resflow_over_torch"], 2)))
    for (b, t), r in sorted(torch.items()):
        if not any(x["batch"] == b and x["seq_len"] == t for x in rows):
            md.append("| %s | %s | %s | (no resflow cell) | | | | %.1f | |" % (r.get("model"), b, t, r["median_ms"]))
    md.append("")
    with open(os.path.join(outdir, "gpu-run.md"), "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
