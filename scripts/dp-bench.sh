#!/usr/bin/env bash
# Data-parallel scaling on this machine: GPT-2 tiny and GPT-2 small (124M) training steps with N=1 (no launcher) and
# N=2 processes (mpirun), one jvm thread per process, the same per-process batch (weak scaling: N=2 trains twice the
# tokens per step). Reports per model and N the median time per global step (steps after the first), the median time
# in the gradient all-reduce (copies in and out and the wait for the other rank included), global tokens/s and the
# scaling efficiency t(N=1) / t(N=2). N=2 runs once per all-reduce bucket size in BUCKETS (MB; 0 = one blocking
# all-reduce after the backward, 25 = the default buckets started during the backward), side by side in one run.
# Needs Open MPI (mpirun) and writes under OUT (default runs/dp-bench-<time>).
# Usage: scripts/dp-bench.sh [OUT]   (STEPS=4 by default; MODELS="gpt2-tiny gpt2-small"; BUCKETS="0 25")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/runs/dp-bench-$(date +%Y%m%d-%H%M%S)}"
STEPS="${STEPS:-4}"
MODELS="${MODELS:-gpt2-tiny gpt2-small}"
BUCKETS="${BUCKETS:-0 25}"
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
    for mb in $BUCKETS; do
        cat > "$OUT/$m-b$mb.json" <<JSON
{"name": "$m", "model": "$ROOT/configs/models/$m.json", "backend": "jvm:1", "batch": $batch, "seq_len": $seq,
 "steps": $STEPS, "lr": 3e-4, "grad_clip": 1.0, "seed": 1, "data": {"type": "synthetic", "batches": 4},
 "allreduce_bucket_mb": $mb}
JSON
    done
    echo "dp-bench: $m, N=1 (batch $batch x $seq, jvm:1)"
    "$ROOT/resflow" run "$OUT/$m-b${BUCKETS%% *}.json" --out "$OUT/$m-n1" > "$OUT/$m-n1.log" 2>&1
    for mb in $BUCKETS; do
        echo "dp-bench: $m, N=2 (batch $batch x $seq per process, jvm:1 each), allreduce_bucket_mb $mb"
        mpirun --oversubscribe "${ROOTOPT[@]}" -np 2 "$ROOT/resflow" run "$OUT/$m-b$mb.json" --out "$OUT/$m-n2-b$mb" \
            > "$OUT/$m-n2-b$mb.log" 2>&1
    done
done
python3 - "$OUT" "$BUCKETS" $MODELS <<'PY'
import json, statistics, sys
out, buckets, models = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
rows = ["| model | N | all-reduce | global batch | time per global step (ms) | all-reduce on the training thread (ms) | share | global tokens/s | scaling efficiency |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
for m in models:
    cfg = json.load(open(f"{out}/{m}-b{buckets[0]}.json"))
    t1 = None
    for n, mb in [(1, None)] + [(2, b) for b in buckets]:
        run = f"{out}/{m}-n1" if n == 1 else f"{out}/{m}-n2-b{mb}"
        lines = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
        steps = lines[1:] if len(lines) > 1 else lines
        t = statistics.median(s["step_ms"] for s in steps)
        ar = statistics.median(s.get("allreduce_ms", 0.0) for s in steps)
        tok = cfg["batch"] * n * cfg["seq_len"] / (t / 1000)
        t1 = t if n == 1 else t1
        eff = t1 / t
        how = "-" if n == 1 else ("one blocking, after backward" if float(mb) == 0 else f"{mb} MB buckets, overlapped")
        rows.append(f"| {m} | {n} | {how} | {cfg['batch'] * n} | {t:.1f} | {ar:.1f} | {100 * ar / t:.1f}% | {tok:,.0f} | {eff:.2f} |")
table = "\n".join(rows)
open(f"{out}/dp-bench.md", "w").write(table + "\n")
print(table)
PY
echo "dp-bench: wrote $OUT/dp-bench.md"
