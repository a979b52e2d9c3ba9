#!/usr/bin/env bash
# Data-parallel scaling on this machine: GPT-2 tiny and GPT-2 small (124M) training steps with N=1 (no launcher) and
# N=2 processes (mpirun), one jvm thread per process, the same per-process batch (weak scaling: N=2 trains twice the
# tokens per step). Reports per model and N the median time per global step (steps after the first), the median time
# in the gradient all-reduce (copies in and out and the wait for the other rank included), global tokens/s and the
# scaling efficiency t(N=1) / t(N=2). Needs Open MPI (mpirun) and writes under OUT (default runs/dp-bench-<time>).
# Usage: scripts/dp-bench.sh [OUT]   (STEPS=4 by default; MODELS="gpt2-tiny gpt2-small")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/runs/dp-bench-$(date +%Y%m%d-%H%M%S)}"
STEPS="${STEPS:-4}"
MODELS="${MODELS:-gpt2-tiny gpt2-small}"
command -v mpirun >/dev/null || { echo "dp-bench: no mpirun (apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 2; }
ROOTOPT=()
[ "$(id -u)" = 0 ] && ROOTOPT=(--allow-run-as-root)
mkdir -p "$OUT"
for m in $MODELS; do
    case "$m" in
        gpt2-tiny) batch=4; seq=64 ;;
        gpt2-small) batch=1; seq=128 ;;
        *) echo "dp-bench: unknown model $m" >&2; exit 2 ;;
    esac
    cat > "$OUT/$m.json" <<JSON
{"name": "$m", "model": "$ROOT/configs/models/$m.json", "backend": "jvm:1", "batch": $batch, "seq_len": $seq,
 "steps": $STEPS, "lr": 3e-4, "grad_clip": 1.0, "seed": 1, "data": {"type": "synthetic", "batches": 4}}
JSON
    echo "dp-bench: $m, N=1 (batch $batch x $seq, jvm:1)"
    "$ROOT/resflow" run "$OUT/$m.json" --out "$OUT/$m-n1" > "$OUT/$m-n1.log" 2>&1
    echo "dp-bench: $m, N=2 (batch $batch x $seq per process, jvm:1 each)"
    mpirun --oversubscribe "${ROOTOPT[@]}" -np 2 "$ROOT/resflow" run "$OUT/$m.json" --out "$OUT/$m-n2" \
        > "$OUT/$m-n2.log" 2>&1
done
python3 - "$OUT" $MODELS <<'PY'
import json, statistics, sys
out, models = sys.argv[1], sys.argv[2:]
rows = ["| model | N | global batch | time per global step (ms) | all-reduce (ms) | all-reduce share | global tokens/s | scaling efficiency |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
for m in models:
    cfg = json.load(open(f"{out}/{m}.json"))
    t1 = None
    for n in (1, 2):
        lines = [json.loads(l) for l in open(f"{out}/{m}-n{n}/metrics.jsonl")]
        steps = lines[1:] if len(lines) > 1 else lines
        t = statistics.median(s["step_ms"] for s in steps)
        ar = statistics.median(s.get("allreduce_ms", 0.0) for s in steps)
        tok = cfg["batch"] * n * cfg["seq_len"] / (t / 1000)
        t1 = t if n == 1 else t1
        eff = t1 / t
        rows.append(f"| {m} | {n} | {cfg['batch'] * n} | {t:.1f} | {ar:.1f} | {100 * ar / t:.1f}% | {tok:,.0f} | {eff:.2f} |")
table = "\n".join(rows)
open(f"{out}/dp-bench.md", "w").write(table + "\n")
print(table)
PY
echo "dp-bench: wrote $OUT/dp-bench.md"
