#!/usr/bin/env bash
# Builds the oclgrind ICD shim (oclgrind-shim.c) into OUT (the module's target/oclgrind) and writes OUT/vendors, the
# folder of OpenCL vendor files that OCL_ICD_VENDORS points at when RESFLOW_OCLGRIND=1 (scripts/env.sh): a copy of the
# system's vendor files (PoCL, a GPU driver) plus resflow-oclgrind.icd naming the shim. Nothing is written outside OUT.
# Run by the build (tornado-kernels/pom.xml, phase process-classes). Without gcc, the OpenCL headers (CL/cl_icd.h) or
# oclgrind it prints why and builds nothing: the simulator is optional.
#   usage: build-oclgrind-shim.sh OUT
set -euo pipefail
out="$1"
src="$(cd "$(dirname "$0")" && pwd)/oclgrind-shim.c"

skip() {
    rm -rf "$out"
    echo "oclgrind shim: not built ($1); RESFLOW_OCLGRIND=1 needs it (see tornado-kernels/README.md)"
    exit 0
}

icd="${RESFLOW_OCLGRIND_ICD:-}"
if [ -z "$icd" ]; then
    for p in /usr/lib/oclgrind/liboclgrind-rt-icd.so /usr/lib/*-linux-gnu/oclgrind/liboclgrind-rt-icd.so \
        /usr/local/lib/liboclgrind-rt-icd.so /usr/local/lib/oclgrind/liboclgrind-rt-icd.so; do
        if [ -f "$p" ]; then
            icd="$p"
            break
        fi
    done
fi
[ -n "$icd" ] && [ -f "$icd" ] || skip "oclgrind's ICD library liboclgrind-rt-icd.so not found: apt-get install oclgrind"
command -v gcc >/dev/null || skip "no gcc"
echo '#include <CL/cl_icd.h>' | gcc -E -x c - >/dev/null 2>&1 || skip "no OpenCL headers (CL/cl_icd.h): apt-get install opencl-c-headers"

mkdir -p "$out/vendors"
lib="$out/libresflow-oclgrind.so"
if [ ! -f "$lib" ] || [ "$src" -nt "$lib" ] || [ "$0" -nt "$lib" ]; then
    gcc -O2 -Wall -Wextra -Werror -shared -fPIC -DOCLGRIND_ICD="\"$icd\"" -o "$lib.tmp" "$src" -ldl -lpthread
    mv "$lib.tmp" "$lib"
fi

# the system's vendor files (where the ICD loader would look without OCL_ICD_VENDORS), then the shim's
system="${OCL_ICD_VENDORS:-/etc/OpenCL/vendors}"
if [ "$(cd "$system" 2>/dev/null && pwd)" = "$(cd "$out/vendors" && pwd)" ]; then
    system=/etc/OpenCL/vendors
fi
rm -f "$out"/vendors/*.icd
for f in "$system"/*.icd; do
    if [ -f "$f" ] && [ "$(basename "$f")" != resflow-oclgrind.icd ]; then
        cp "$f" "$out/vendors/"
    fi
done
echo "$(cd "$out" && pwd)/libresflow-oclgrind.so" > "$out/vendors/resflow-oclgrind.icd"
mkdir -p "$out/logs"
echo "oclgrind shim: $lib (forwards to $icd); vendors: $(cd "$out/vendors" && ls | tr '\n' ' ')"
