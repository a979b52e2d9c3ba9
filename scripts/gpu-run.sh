#!/usr/bin/env bash
# One command for a GPU run: on the GPU machine (no Java, no Maven, no network), from the carried working tree and
# the bundle that scripts/gpu-bundle.sh made (.device/bundle, carried), within about 5 minutes:
#   1. prints what is there: GPU and driver (nvidia-smi), CUDA libraries (libcuda, nvcc, the pip wheels), the OpenCL
#      ICD loader (libOpenCL.so.1) and NVIDIA's ICD (libnvidia-opencl.so.1); registers the ICDs through
#      OCL_ICD_VENDORS (a temporary vendors folder: /etc/OpenCL/vendors/*.icd plus NVIDIA's when found); puts the
#      carried Debian ocl-icd-libopencl1 on LD_LIBRARY_PATH when no loader is installed;
#   2. checks the bundle (sha256, built from these sources), unpacks (with Python: no xz, dpkg or ar needed) the
#      JDK, the TornadoVM SDK, the runner and the carried loader,
#      rewrites the SDK paths of its argfiles and picks the argfile that starts here (PTX + OpenCL when
#      libcuda.so.1 loads and the SDK has PTX, else OpenCL only);
#   3. lists the devices (`resflow devices`) and keeps the GPUs;
#   4. PyTorch (scripts/torch_reference.py, float32, TF32 off) on the same GPU: GPT-2 124M train steps, B=4 T=64
#      and B=4 T=1024;
#   5. on every GPU device (NVIDIA OpenCL, and PTX when the SDK has it): `resflow check testvectors` (every oracle
#      folder), then `resflow bench configs/bench-gpu.json` (GPT-2 124M train steps at B=4 T=64 and B=4 T=1024),
#      whose every cell must have run and matched its check (against the jvm backend at the same shape);
#   6. writes the report under $OUT (else runs/gpu-run-<mode>-<time>/): gpu-run.md, gpu-run.json (with the ratios
#      resflow / PyTorch), gpu-run.log (this output) and details.tar.gz (every step's log and bench.json).
# Each step has a time limit inside an overall budget (--budget, default 300 s on a GPU); a step that would start
# past it is recorded as skipped, and the report is still written.
#
#   scripts/gpu-run.sh [--local] [--bundle DIR] [--out DIR] [--budget SECONDS] [--devices SPEC,...] [--keep]
#   scripts/gpu-run.sh --check-bundle      only checks that the bundle is whole and built from these sources
#
# --local runs the same sequence here, with the same bundle unpacked and started the same way, on every TornadoVM
# device of this machine (PoCL here), on the tiny model (testvectors/gpt2-tiny at B=4 T=16 and T=32,
# configs/bench-gpu-local.json; PyTorch on the CPU when torch is importable, else skipped with a line saying so);
# budget 540 s. It also checks that the models of the GPU's configs/bench-gpu.json resolve. .ci/run runs it after ./test when a TornadoVM SDK is installed.
#
# Exit 0 when every step ran and everything checked matched; 1 a check or a bench cell's check did not match;
# 2 bad input (no bundle, a bundle of other sources, a bad argument); 3 a step failed, timed out or was skipped, or
# a bench cell was skipped or not checked. Only --local may skip the PyTorch step (torch not importable), and it
# says so.
#
# Not yet run on a GPU (the branches only a GPU machine takes; each is small, and --local runs all the rest):
#   - the NVIDIA probes (nvidia-smi, nvcc, the nvidia-* wheels) and registering libnvidia-opencl.so.1;
#   - the carried ocl-icd loader on LD_LIBRARY_PATH (here a loader is installed; --local unpacks the .deb and
#     checks that its libOpenCL.so.1 loads);
#   - adding libcuda.so.1's folder to LD_LIBRARY_PATH when the dynamic loader does not find it;
#   - the PTX argfile, and falling back to the OpenCL-only argfile when the JVM does not start with it;
#   - keeping only devices of type gpu; configs/bench-gpu.json with -Xmx32g -Dtornado.device.memory=32GB;
#   - torch_reference.py --device cuda, and the PyTorch step failing the run when torch is missing.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"

MODE=gpu
BUNDLE="$ROOT/.device/bundle"
OUTDIR=""
BUDGET=""
DEVICES=""
KEEP=0
CHECK_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --local) MODE=local; shift ;;
        --bundle) BUNDLE="${2:?--bundle needs a folder}"; shift 2 ;;
        --out) OUTDIR="${2:?--out needs a folder}"; shift 2 ;;
        --budget) BUDGET="${2:?--budget needs seconds}"; shift 2 ;;
        --devices) DEVICES="${2:?--devices needs specs}"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --check-bundle) CHECK_ONLY=1; shift ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu-run: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$BUDGET" in "") BUDGET=$([ "$MODE" = gpu ] && echo 300 || echo 540) ;; *[!0-9]*) echo "gpu-run: --budget $BUDGET: seconds expected" >&2; exit 2 ;; esac
START=$(date +%s)
DEADLINE=$((START + BUDGET))

# ---- the bundle: whole, and built from the sources of this tree ----
MANIFEST="$BUNDLE/MANIFEST.json"
if [ ! -f "$MANIFEST" ]; then
    echo "gpu-run: no bundle at $BUNDLE (MANIFEST.json missing): make it with scripts/gpu-bundle.sh" >&2
    exit 2
fi
if ! command -v python3 >/dev/null; then
    echo "gpu-run: python3 is needed (bundle manifest, report)" >&2
    exit 3
fi
mf() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else str(v).lower() if isinstance(v,bool) else v)' "$MANIFEST" "$1"; }
if ! python3 - "$BUNDLE" <<'PY'; then
import hashlib, json, os, sys
b = sys.argv[1]
m = json.load(open(os.path.join(b, "MANIFEST.json")))
bad = []
for name, f in m["files"].items():
    p = os.path.join(b, name)
    h = hashlib.sha256()
    try:
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        bad.append(name + " (missing)")
        continue
    if h.hexdigest() != f["sha256"]:
        bad.append(name + " (sha256 differs)")
if bad:
    sys.exit("gpu-run: the bundle in %s is damaged: %s; make it again with scripts/gpu-bundle.sh" % (b, ", ".join(bad)))
PY
    exit 2
fi
if [ "$(mf source_hash)" != "$(resflow_source_hash "$ROOT")" ]; then
    echo "gpu-run: the bundle was built from other sources (commit $(mf commit), $(mf created)) than this tree's; make it again with scripts/gpu-bundle.sh" >&2
    exit 2
fi
if [ "$CHECK_ONLY" = 1 ]; then
    echo "gpu-run: bundle $BUNDLE is whole and built from these sources (commit $(mf commit), PTX $(mf ptx), $(mf total_bytes) bytes)"
    exit 0
fi

# ---- output and work folders ----
if [ -z "$OUTDIR" ]; then
    if [ -n "${OUT:-}" ]; then OUTDIR="$OUT"; else OUTDIR="$ROOT/runs/gpu-run-$MODE-$(date +%Y%m%d-%H%M%S)"; fi
fi
if [ -d "$OUTDIR" ] && [ -n "$(ls -A "$OUTDIR")" ]; then
    echo "gpu-run: $OUTDIR is not empty; give an empty or new folder with --out" >&2
    exit 2
fi
mkdir -p "$OUTDIR" || exit 2
WORK="$(mktemp -d "${TMPDIR:-/tmp}/resflow-gpu.XXXXXX")"
RF="$WORK/rf"
mkdir -p "$RF"
exec > >(tee -a "$OUTDIR/gpu-run.log") 2>&1
TEE_PID=$!
cp "$MANIFEST" "$WORK/MANIFEST.json"
: >"$WORK/facts.tsv"
: >"$WORK/steps.tsv"
: >"$WORK/selected.tsv"

fact() { printf '%s\t%s\n' "$1" "$2" >>"$WORK/facts.tsv"; printf '  %-26s %s\n' "$1" "$2"; }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$WORK/steps.tsv"; }
elapsed() { echo $(($(date +%s) - START)); }

# run_step NAME LIMIT LOG FILTER CMD...: runs CMD (from the repository root) under a time limit within the budget;
# its whole output goes to LOG, and to this output the lines matching FILTER (grep -E; "" for all).
run_step() {
    local name="$1" limit="$2" log="$3" filter="$4" left t0 rc status note=""
    shift 4
    left=$((DEADLINE - $(date +%s)))
    if [ "$left" -lt 15 ]; then
        echo "== $name: skipped, out of time (budget ${BUDGET} s)"
        record "$name" skipped "" 0 "out of time (budget ${BUDGET} s)"
        return 99
    fi
    [ "$limit" -le "$left" ] || limit=$left
    echo "== $name (limit ${limit} s, at $(elapsed) s)"
    t0=$(date +%s.%N)
    if [ -n "$filter" ]; then
        (cd "$ROOT" && timeout -k 10 "$limit" "$@") 2>&1 | tee "$log" | grep --line-buffered -E "$filter"
    else
        (cd "$ROOT" && timeout -k 10 "$limit" "$@") 2>&1 | tee "$log"
    fi
    rc=${PIPESTATUS[0]}
    local secs
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    case "$rc" in
        0) status=ok ;;
        124|137) status=timeout; note="stopped after ${limit} s" ;;
        *) status=fail; note=$(grep -E 'error|Error|Exception|FAIL|MISMATCH' "$log" | head -n 1 | cut -c1-200) ;;
    esac
    echo "== $name: $status (exit $rc, $secs s)"
    record "$name" "$status" "$rc" "$secs" "$note"
    return "$rc"
}

finish() {
    local code="$1"
    echo "== report (at $(elapsed) s)"
    python3 "$ROOT/scripts/gpu_report.py" "$WORK" "$OUTDIR" || { echo "gpu-run: the report failed"; code=3; }
    (cd "$WORK" && tar -czf "$OUTDIR/details.tar.gz" --exclude=rf --exclude=ocl-icd --exclude=vendors .) ||
        echo "gpu-run: could not pack the details"
    [ -f "$OUTDIR/gpu-run.md" ] && sed -n '/^## Checks/,$p' "$OUTDIR/gpu-run.md"
    # CPU time of everything this script started: bash's `times` (in this shell, not a subshell), second line
    times >"$WORK/times"
    echo "gpu-run: $MODE run done in $(elapsed) s (CPU time of its commands: user $(sed -n 2p "$WORK/times" | cut -d' ' -f1), system $(sed -n 2p "$WORK/times" | cut -d' ' -f2)), exit $code; report in $OUTDIR (gpu-run.md, gpu-run.json, gpu-run.log, details.tar.gz)"
    [ "$KEEP" = 1 ] && echo "gpu-run: work folder kept: $WORK" || rm -rf "$WORK"
    exec >&- 2>&-
    wait "$TEE_PID" 2>/dev/null
    exit "$code"
}

echo "gpu-run: $MODE mode, budget $BUDGET s, bundle $BUNDLE, work $WORK"
fact mode "$MODE"
fact date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
fact host "$(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) memory"
fact bundle "commit $(mf commit), made $(mf created), PTX in the SDK: $(mf ptx), $(mf total_bytes) bytes"

# ---- 1. what is there ----
echo "== machine"
# Finds a shared library: the dynamic loader's cache, then the usual folders (NVIDIA's driver folder included).
find_lib() {
    local p
    p=$(ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n { print $NF; exit }')
    if [ -z "$p" ]; then
        for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /lib/x86_64-linux-gnu /usr/local/nvidia/lib64 \
            /usr/local/nvidia/lib /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
            [ -e "$d/$1" ] && { p="$d/$1"; break; }
        done
    fi
    echo "$p"
}
loads() { python3 -c 'import ctypes,sys; ctypes.CDLL(sys.argv[1])' "$1" 2>/dev/null; }
if command -v nvidia-smi >/dev/null; then
    fact gpu "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -n 4 | paste -sd';' -)"
    fact cuda_driver_api "$(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -n 1)"
else
    fact gpu "no nvidia-smi"
fi
fact nvcc "$(command -v nvcc >/dev/null && nvcc --version | tail -n 2 | head -n 1 || echo none)"
fact cuda_wheels "$(python3 -c '
import importlib.metadata as m
out = []
for n in ("torch", "nvidia-cuda-runtime", "nvidia-cuda-nvrtc", "nvidia-cublas"):
    try: out.append(n + " " + m.version(n))
    except m.PackageNotFoundError: out.append(n + " absent")
print(", ".join(out))' 2>&1)"
CUDA_LIB=$(find_lib libcuda.so.1)
if [ -n "$CUDA_LIB" ] && ! loads libcuda.so.1 && loads "$CUDA_LIB"; then
    export LD_LIBRARY_PATH="$(dirname "$CUDA_LIB")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if loads libcuda.so.1; then HAVE_CUDA=1; else HAVE_CUDA=0; fi
fact libcuda.so.1 "${CUDA_LIB:-not found}$([ "$HAVE_CUDA" = 1 ] && echo ", loads" || echo ", does not load")"

# The OpenCL ICD loader, and the carried one (always unpacked, so that --local tries it too).
OCL_LIB=$(find_lib libOpenCL.so.1)
DEB=$(mf ocl_icd_deb)
CARRIED=""
# Python unpacks it (a .deb is an ar archive holding data.tar.xz): neither dpkg-deb nor ar is needed.
extract_deb() { # DEB DIR
    python3 - "$1" "$2" <<'PY'
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
data = open(deb, "rb").read()
if data[:8] != b"!<arch>\n":
    sys.exit("gpu-run: %s is not a .deb (no ar header)" % deb)
pos, found = 8, False
while pos + 60 <= len(data):
    name, size = data[pos:pos + 16].decode().strip().rstrip("/"), int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if name.startswith("data.tar"):
        t = tarfile.open(fileobj=io.BytesIO(body))
        t.extractall(dest, **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))
        found = True
if not found:
    sys.exit("gpu-run: %s holds no data.tar" % deb)
PY
}
if [ -n "$DEB" ] && [ -f "$BUNDLE/$DEB" ] && extract_deb "$BUNDLE/$DEB" "$WORK/ocl-icd"; then
    CARRIED=$(ls "$WORK"/ocl-icd/usr/lib/x86_64-linux-gnu/libOpenCL.so.1 2>/dev/null)
fi
fact carried_loader "${CARRIED:-none} (from ${DEB:-no .deb in the bundle})$([ -n "$CARRIED" ] && { loads "$CARRIED" && echo ", loads" || echo ", does not load"; })"
if [ -n "$OCL_LIB" ] && loads "$OCL_LIB"; then
    fact libOpenCL.so.1 "$OCL_LIB (installed)"
    case ":$(ldconfig -p 2>/dev/null | awk '$1 == "libOpenCL.so.1" { print $NF }' | paste -sd: -):" in
        *":$OCL_LIB:"*) ;;
        *) export LD_LIBRARY_PATH="$(dirname "$OCL_LIB")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
    esac
elif [ -n "$CARRIED" ]; then
    export LD_LIBRARY_PATH="$(dirname "$CARRIED")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fact libOpenCL.so.1 "none installed: using the carried $CARRIED"
else
    fact libOpenCL.so.1 "none installed and none carried: OpenCL will not start"
fi
# ICDs: what /etc/OpenCL/vendors registers, plus NVIDIA's OpenCL library when it is there and not registered.
mkdir -p "$WORK/vendors"
for f in /etc/OpenCL/vendors/*.icd; do [ -f "$f" ] && cp "$f" "$WORK/vendors/"; done
NV_ICD=$(find_lib libnvidia-opencl.so.1)
if [ -n "$NV_ICD" ] && ! grep -qs 'libnvidia-opencl' "$WORK"/vendors/*.icd; then
    echo "$NV_ICD" >"$WORK/vendors/resflow-nvidia.icd"
fi
export OCL_ICD_VENDORS="$WORK/vendors"
fact libnvidia-opencl.so.1 "${NV_ICD:-not found}"
fact icds "$(for f in "$WORK"/vendors/*.icd; do [ -f "$f" ] && printf '%s=%s ' "$(basename "$f")" "$(cat "$f")"; done)"
if command -v clinfo >/dev/null; then
    fact clinfo "$(timeout 30 clinfo -l 2>&1 | tr -s ' \n' ' ' | cut -c1-300)"
fi

# ---- 2. unpack ----
unpack() { # FILE: into $RF, with Python's tarfile (the GPU machine may have no xz)
    python3 -c 'import sys, tarfile
t = tarfile.open(sys.argv[1])
t.extractall(sys.argv[2], **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))' "$1" "$RF"
}
echo "== unpack"
t0=$(date +%s)
for f in jdk tornadovm app; do
    if ! unpack "$BUNDLE/$f.tar.xz"; then
        record unpack fail 3 "$(($(date +%s) - t0))" "could not unpack $f.tar.xz"
        finish 3
    fi
done
for a in "$RF"/sdk/tornado-argfile*; do sed -i "s|@RESFLOW_SDK@|$RF/sdk|g" "$a"; done
if [ "$(mf ptx)" = true ] && [ "$HAVE_CUDA" = 1 ]; then
    ARGFILE=tornado-argfile
    fact argfile "tornado-argfile (OpenCL + PTX: libcuda.so.1 loads)"
elif [ -f "$RF/sdk/tornado-argfile-opencl-only" ]; then
    ARGFILE=tornado-argfile-opencl-only
    fact argfile "tornado-argfile-opencl-only (the SDK has PTX, but libcuda.so.1 does not load here)"
else
    ARGFILE=tornado-argfile
    fact argfile "tornado-argfile (the SDK has OpenCL only)"
fi
cp "$RF/sdk/$ARGFILE" "$RF/tornado-argfile"
record unpack ok 0 "$(($(date +%s) - t0))" "jdk, sdk, app into $RF"
fact java "$("$RF/jdk/bin/java" -version 2>&1 | sed -n 2p)"
export POCL_CACHE_DIR="${POCL_CACHE_DIR:-$WORK/pocl-cache}"
if [ "$MODE" = gpu ]; then
    # GPT-2 124M at B=4, T=1024 needs 10.3 GiB of device buffers (TornadoVM's default cap is 4GB) and a host copy.
    export RESFLOW_JAVA_OPTS="${RESFLOW_JAVA_OPTS:-} -Xmx32g -Dtornado.device.memory=32GB"
fi
fact RESFLOW_JAVA_OPTS "${RESFLOW_JAVA_OPTS:-}"
fact LD_LIBRARY_PATH "${LD_LIBRARY_PATH:-}"

# ---- 3. devices ----
run_step devices 90 "$WORK/devices.log" "" "$RF/resflow" devices
if [ "$?" != 0 ] && [ "$ARGFILE" = tornado-argfile ] && [ -f "$RF/sdk/tornado-argfile-opencl-only" ]; then
    echo "gpu-run: the JVM did not start with the PTX backend; again with OpenCL only"
    cp "$RF/sdk/tornado-argfile-opencl-only" "$RF/tornado-argfile"
    fact argfile "tornado-argfile-opencl-only (the PTX argfile failed to start: see devices.log)"
    mv "$WORK/devices.log" "$WORK/devices-ptx.log"
    run_step devices-opencl-only 90 "$WORK/devices.log" "" "$RF/resflow" devices
fi
# Lines "tornado:<d>:<i>  KIND  NAME  TYPE, N GiB global memory, ..."; a GPU run keeps the GPUs.
if [ -n "$DEVICES" ]; then
    tr ',' '\n' <<<"$DEVICES" | while read -r s; do
        grep -E "^$s " "$WORK/devices.log" | head -n 1
    done
else
    grep -E '^tornado:[0-9]+:[0-9]+ ' "$WORK/devices.log" 2>/dev/null |
        if [ "$MODE" = gpu ]; then grep -E ' gpu, [0-9.]+ GiB global memory'; else cat; fi
fi | awk '{ spec = $1; kind = $2; rest = substr($0, index($0, $3)); sub(/ +[a-z]+, [0-9.]+ GiB global memory.*/, "", rest);
            print spec "\t" kind "\t" rest }' >"$WORK/selected.tsv"
SELECTED=$(cut -f1 "$WORK/selected.tsv" | paste -sd' ' -)
fact devices_used "${SELECTED:-none}"

# ---- 4. PyTorch on the same machine ----
if [ "$MODE" = gpu ]; then
    SHAPES="4x64 4x1024"
    TORCH_ARGS=(--device cuda --model gpt2-small --warmup 3 --repeats 10)
    BENCH_CONFIG=configs/bench-gpu.json
    CHECK_LIMIT=150
    BENCH_LIMIT=180
else
    SHAPES="4x16 4x32"
    TORCH_ARGS=(--device cpu --model testvectors/gpt2-tiny --threads "$(nproc)" --warmup 3 --repeats 10)
    BENCH_CONFIG=configs/bench-gpu-local.json
    CHECK_LIMIT=330
    BENCH_LIMIT=240 # 68 s on a quiet 2-core machine, 177 s at a load average of 13
    # The GPU's bench config is not run here (GPT-2 124M): at least its models must resolve.
    note=$(python3 "$ROOT/scripts/gpu_report.py" --models "$ROOT/configs/bench-gpu.json")
    rc=$?
    echo "== GPU bench config: $note"
    record "GPU bench config" "$([ "$rc" = 0 ] && echo ok || echo fail)" "$rc" 0 "$note"
fi
if python3 -c 'import torch' 2>/dev/null; then
    for s in $SHAPES; do
        b=${s%x*}
        t=${s#*x}
        run_step "torch B=$b T=$t" 120 "$WORK/torch-B$b-T$t.log" "" env PYTHONUNBUFFERED=1 python3 \
            scripts/torch_reference.py --mode train --batch "$b" --seq-len "$t" "${TORCH_ARGS[@]}" \
            --json "$WORK/torch-B$b-T$t.json"
    done
elif [ "$MODE" = gpu ]; then
    echo "== torch: python3 cannot import torch"
    record torch fail 4 0 "python3 ($(python3 --version 2>&1)) cannot import torch"
else
    echo "== torch: skipped: python3 ($(python3 --version 2>&1)) cannot import torch, so no PyTorch figures"
    record torch skipped "" 0 "torch is not importable here"
fi

# ---- 5. check and bench on every device ----
# bench exits 0 when a cell was skipped (e.g. it does not fit the device) or not checked: every cell of the config
# must have run and matched its check, else the step "cells SPEC" fails (1: a mismatch; 3: a cell missing, skipped or
# failed).
bench_cells() { # SPEC BENCH_JSON
    local note rc
    note=$(python3 "$ROOT/scripts/gpu_report.py" --cells "$2" "$ROOT/$BENCH_CONFIG")
    rc=$?
    echo "== cells $1: $note"
    case "$rc" in
        0) record "cells $1" ok 0 0 "$note" ;;
        *) record "cells $1" fail "$rc" 0 "$note" ;;
    esac
}
for spec in $SELECTED; do
    dev=${spec//:/-}
    run_step "check $spec" "$CHECK_LIMIT" "$WORK/check-$dev.log" '^== |: (PASS|FAIL), |^check: |rror|xception' \
        "$RF/resflow" check testvectors --backend "$spec"
    run_step "bench $spec" "$BENCH_LIMIT" "$WORK/bench-$dev.log" "" \
        "$RF/resflow" bench "$BENCH_CONFIG" --backends "$spec" -o "$WORK/bench-$dev"
    bench_cells "$spec" "$WORK/bench-$dev/bench.json"
done

# ---- 6. verdict and report ----
CODE=0
[ -n "$SELECTED" ] || { echo "gpu-run: no device to run on"; CODE=3; }
while IFS=$'\t' read -r name status rc _ _; do
    case "$status" in
        ok) ;;
        skipped) [ "$name" = torch ] && [ "$MODE" = local ] || CODE=3 ;;
        fail) if [ "$rc" = 1 ] && [ "$CODE" = 0 ]; then CODE=1; elif [ "$rc" != 1 ]; then CODE=3; fi ;;
        *) CODE=3 ;;
    esac
done <"$WORK/steps.tsv"
finish "$CODE"
