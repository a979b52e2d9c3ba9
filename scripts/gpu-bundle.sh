#!/usr/bin/env bash
# Makes the GPU bundle: everything scripts/gpu-run.sh needs on a machine with no Java and no Maven, in an ignored
# folder of the working tree (default .device/bundle) so that it travels with it. Nothing of it is committed.
#
#   scripts/gpu-bundle.sh [--sdk DIR] [--out DIR] [--xz-level N]
#
#   --sdk DIR      the TornadoVM SDK to carry (default: TORNADOVM_HOME, else /opt/tornadovm-ptx when it is there,
#                  else /opt/tornadovm). For PTX on the GPU it must be an SDK built with the PTX backend; it is
#                  carried whole (both backends) and gpu-run.sh picks the argfile by whether libcuda.so.1 loads.
#   --out DIR      where the bundle goes (default .device/bundle); inside the repository it must be git-ignored.
#   --xz-level N   xz preset, 0-9 (default 6); only the size and the time to make it change.
#
# Contents (MANIFEST.json lists them with sizes and sha256):
#   jdk.tar.xz        jdk/: a jlinked JDK 25 (the modules TornadoVM and resflow need, debug attributes stripped)
#   tornadovm.tar.xz  sdk/: the SDK's argfile(s), native libraries, etc/ and jars (stored uncompressed so that xz
#                     compresses them); not its examples, scripts, unit tests, benchmarks or fuzzers. With PTX the
#                     SDK's argfile stays as it is and tornado-argfile-opencl-only is made beside it (the OpenCL
#                     backend alone, the PTX jars off the module path). Absolute SDK paths become @RESFLOW_SDK@.
#   app.tar.xz        resflow (the bundle's launcher, scripts/gpu-launcher), env.sh, java-options (the JVM options
#                     ./resflow gives every command, scripts/java-options), app/: the runner jar and
#                     runner/target/lib, the tornado-kernels jar, in the repository's layout
#   ocl-icd-libopencl1_*.deb   Debian's OpenCL ICD loader, used on the GPU machine only if it has none
#   MANIFEST.json     what was bundled from where, the hash of the sources the jars were built from
#
# The project is built first when needed (as ./resflow does, against the same SDK). Exit 0 done, 2 bad input
# (no SDK, output not ignored, bundle over 64 MiB with the tracked files), 3 a step failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"

SDK_ARG=""
OUTDIR="$ROOT/.device/bundle"
XZ_LEVEL=6
LIMIT=$((64 * 1024 * 1024))
while [ $# -gt 0 ]; do
    case "$1" in
        --sdk) SDK_ARG="${2:?--sdk needs a folder}"; shift 2 ;;
        --out) OUTDIR="${2:?--out needs a folder}"; shift 2 ;;
        --xz-level) XZ_LEVEL="${2:?--xz-level needs 0-9}"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu-bundle: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$XZ_LEVEL" in [0-9]) ;; *) echo "gpu-bundle: --xz-level $XZ_LEVEL: expected 0-9" >&2; exit 2 ;; esac
if [ -n "$SDK_ARG" ]; then
    export TORNADOVM_HOME="$SDK_ARG"
elif [ -z "${TORNADOVM_HOME:-}" ] && [ -f /opt/tornadovm-ptx/tornado-argfile ]; then
    export TORNADOVM_HOME=/opt/tornadovm-ptx
fi
resflow_select_jdk || exit 2
resflow_find_tornado || exit 2
if [ -z "$TORNADO_SDK" ]; then
    echo "gpu-bundle: no TornadoVM SDK (TORNADOVM_HOME unset and no /opt/tornadovm/tornado-argfile); give --sdk DIR" >&2
    exit 2
fi
SDK="$(cd "$TORNADO_SDK" && pwd)"
export JAVA_HOME="$RESFLOW_JAVA_HOME"
mkdir -p "$(dirname "$OUTDIR")"
OUTDIR="$(cd "$(dirname "$OUTDIR")" && pwd)/$(basename "$OUTDIR")"
case "$OUTDIR/" in
    "$ROOT/"*)
        if ! git -C "$ROOT" check-ignore -q "$OUTDIR/MANIFEST.json"; then
            echo "gpu-bundle: --out $OUTDIR is inside the repository but not git-ignored (use .device/...)" >&2
            exit 2
        fi ;;
esac
if [ -e "$OUTDIR" ] && [ ! -f "$OUTDIR/MANIFEST.json" ]; then
    echo "gpu-bundle: $OUTDIR exists and is not a bundle (no MANIFEST.json); not overwriting it" >&2
    exit 2
fi

START=$(date +%s)
step() { echo "gpu-bundle: $* (at $(($(date +%s) - START)) s)"; }
fail() { echo "gpu-bundle: $*" >&2; exit 3; }
STAGE="$(mktemp -d "${TMPDIR:-/tmp}/resflow-bundle.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
NEW="$STAGE/out"
mkdir -p "$NEW"

step "building the project against $SDK (when sources changed)"
resflow_build_if_needed "$ROOT" || exit 3
RUNNER_JAR="$(resflow_runner_jar "$ROOT")"
KERNELS_JAR="$(resflow_kernels_jar "$ROOT")"
[ -n "$RUNNER_JAR" ] && [ -n "$KERNELS_JAR" ] || fail "the build left no runner or tornado-kernels jar"

# Rewrites every jar given in place with its entries stored (not deflated): xz then compresses the whole far better.
store_jars() {
    python3 - "$@" <<'PY' || fail "could not repack jars"
import os, sys, zipfile
for path in sys.argv[1:]:
    tmp = path + ".stored"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            out = zipfile.ZipInfo(info.filename, info.date_time)
            out.external_attr = info.external_attr
            out.create_system = info.create_system
            zout.writestr(out, zin.read(info), compress_type=zipfile.ZIP_STORED)
    os.replace(tmp, path)
PY
}

xz_tar() { # NAME DIR...: NAME.tar.xz of the given folders of $STAGE
    local name="$1"
    shift
    tar -C "$STAGE" --owner=0 --group=0 --numeric-owner -cf - "$@" | xz -T0 "-$XZ_LEVEL" >"$NEW/$name.tar.xz" ||
        fail "could not write $name.tar.xz"
}

# The JDK: the modules TornadoVM needs (Graal itself comes from the SDK's upgrade module path) and those resflow's
# runner uses (java.management, java.desktop for the charts, java.sql for jackson, jdk.incubator.vector).
MODULES=java.base,java.logging,java.management,jdk.management,jdk.unsupported,java.desktop,java.naming,java.sql
MODULES=$MODULES,java.scripting,java.xml,java.compiler,jdk.crypto.ec,jdk.zipfs,jdk.incubator.vector,jdk.internal.vm.ci
step "jlink: a JDK of $(resflow_java_version "$JAVA_HOME") with $MODULES"
# (jlink prints the JDK's notice for the incubator module on stdout; nothing else is dropped)
"$JAVA_HOME/bin/jlink" --add-modules "$MODULES" --output "$STAGE/jdk" --strip-debug --no-man-pages \
    --no-header-files 2>&1 | { grep -v '^WARNING: Using incubator modules' || true; }
[ "${PIPESTATUS[0]}" = 0 ] || fail "jlink failed"
[ -f "$STAGE/jdk/lib/libjsig.so" ] || fail "the jlinked JDK has no lib/libjsig.so"
xz_tar jdk jdk

step "the TornadoVM SDK from $SDK"
mkdir -p "$STAGE/sdk/share/java"
cp -a "$SDK/tornado-argfile" "$SDK/lib" "$SDK/etc" "$STAGE/sdk/"
cp -a "$SDK/share/java/graalJars" "$SDK/share/java/tornado" "$STAGE/sdk/share/java/"
for f in "$SDK"/LICENSE* "$SDK/README.md"; do [ -f "$f" ] && cp -a "$f" "$STAGE/sdk/"; done
# What no resflow run loads (TornadoVM's own test, benchmark, example and fuzzing programs).
rm -f "$STAGE"/sdk/share/java/tornado/tornado-{unittests,benchmarks,examples,fuzz}-*.jar
store_jars "$STAGE"/sdk/share/java/graalJars/*.jar "$STAGE"/sdk/share/java/tornado/*.jar
HAS_PTX=false
if grep -q '^--add-modules.*tornado\.drivers\.ptx' "$STAGE/sdk/tornado-argfile"; then
    HAS_PTX=true
    # The OpenCL backend alone: TornadoVM starts every backend its argfile names and aborts when one's native
    # library does not load (PTX needs libcuda.so.1); dropping ptx from --add-modules is not enough (ServiceLoader
    # still finds the PTX jar on the module path), so the module path lists every jar but the PTX ones.
    jars=$(cd "$STAGE/sdk/share/java/tornado" && ls *.jar | grep -v '^tornado-drivers-ptx' |
        sed "s|^|$SDK/share/java/tornado/|" | paste -sd: -)
    awk -v mp="--module-path .:$jars" '
        /^# === ptx-exports ===/ { skip = 1; next }
        /^# ===/ { skip = 0 }
        skip { next }
        /^--module-path / { print mp; next }
        /^--add-modules / || /^--enable-native-access=/ { gsub(/,tornado\.drivers\.ptx/, "") }
        { print }' "$STAGE/sdk/tornado-argfile" >"$STAGE/sdk/tornado-argfile-opencl-only"
    ! grep -q 'drivers\.ptx\|drivers-ptx' "$STAGE/sdk/tornado-argfile-opencl-only" ||
        fail "tornado-argfile-opencl-only still names the PTX backend"
fi
for a in "$STAGE"/sdk/tornado-argfile*; do
    sed -i "s|$SDK|@RESFLOW_SDK@|g" "$a"
    ! grep -q "$SDK" "$a" || fail "$(basename "$a") still names $SDK"
done
xz_tar tornadovm sdk

step "the runner: $(basename "$RUNNER_JAR"), runner/target/lib, $(basename "$KERNELS_JAR")"
APP="$STAGE/app/app"
mkdir -p "$APP/runner/target" "$APP/tornado-kernels/target"
cp -a "$RUNNER_JAR" "$APP/runner/target/"
cp -a "$ROOT/runner/target/lib" "$APP/runner/target/"
# What the GPU run never uses stays home: the tokenizer libraries (DJL's jar alone carries 18 MB of native
# tokenizers for three platforms; check and bench train on the oracle folders and synthetic data, without a
# tokenizer, and the classes are only loaded when a command asks for one)
python3 - "$APP/runner/target/lib" <<'PY' || fail "could not leave out the tokenizer jars"
import os, sys, zipfile
lib = sys.argv[1]
for name in sorted(os.listdir(lib)):
    with zipfile.ZipFile(os.path.join(lib, name)) as z:
        if any(n.startswith(("ai/djl/", "com/knuddels/jtokkit/")) for n in z.namelist()):
            os.remove(os.path.join(lib, name))
            print("gpu-bundle: left out " + name + " (tokenizers)")
PY
cp -a "$KERNELS_JAR" "$APP/tornado-kernels/target/"
store_jars "$APP"/runner/target/*.jar "$APP"/runner/target/lib/*.jar "$APP"/tornado-kernels/target/*.jar
cp "$ROOT/scripts/gpu-launcher" "$STAGE/app/resflow"
cp "$ROOT/scripts/env.sh" "$STAGE/app/env.sh"
cp "$ROOT/scripts/java-options" "$STAGE/app/java-options"
chmod +x "$STAGE/app/resflow"
(cd "$STAGE/app" && tar --owner=0 --group=0 --numeric-owner -cf - resflow env.sh java-options app) | xz -T0 "-$XZ_LEVEL" \
    >"$NEW/app.tar.xz" || fail "could not write app.tar.xz"

DEB=""
step "Debian's OpenCL ICD loader (apt-get download ocl-icd-libopencl1)"
if (cd "$NEW" && apt-get download ocl-icd-libopencl1 >/dev/null 2>&1); then
    DEB="$(cd "$NEW" && ls ocl-icd-libopencl1_*.deb | head -n 1)"
else
    cached=$(ls /var/cache/apt/archives/ocl-icd-libopencl1_*_amd64.deb 2>/dev/null | head -n 1 || true)
    if [ -n "$cached" ]; then
        cp "$cached" "$NEW/" && DEB="$(basename "$cached")"
    else
        echo "gpu-bundle: could not download ocl-icd-libopencl1: the bundle works only where an OpenCL loader is installed" >&2
    fi
fi

# The sources the jars were built from; gpu-run.sh refuses a bundle older than the tree it runs in.
SRC_HASH="$(resflow_source_hash "$ROOT")"
COMMIT="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
DIRTY=false
[ -z "$(git -C "$ROOT" status --porcelain -- model backend-jvm runner tornado-kernels pom.xml scripts/env.sh \
    scripts/gpu-launcher scripts/java-options 2>/dev/null)" ] || DIRTY=true
python3 - "$NEW" "$SDK" "$HAS_PTX" "$SRC_HASH" "$COMMIT" "$DIRTY" "$STAGE/jdk" "$XZ_LEVEL" "$DEB" "$JAVA_HOME" <<'PY' || fail "could not write MANIFEST.json"
import hashlib, json, os, sys, time
out, sdk, ptx, src, commit, dirty, jdk, level, deb, jdk_from = sys.argv[1:]
def sha(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()
def read(p):
    try:
        with open(p) as f:
            return f.read().strip()
    except OSError:
        return None
files = {n: {"bytes": os.path.getsize(os.path.join(out, n)), "sha256": sha(os.path.join(out, n))}
         for n in sorted(os.listdir(out))}
m = {"format": "resflow-gpu-bundle-1", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
     "commit": commit, "sources_dirty": dirty == "true", "source_hash": src,
     "jdk_from": jdk_from, "jdk": dict((l.split("=", 1)[0], l.split("=", 1)[1].strip('"')) for l in (read(os.path.join(jdk, "release")) or "").splitlines()
                                      if "=" in l and l.split("=", 1)[0] in ("IMPLEMENTOR_VERSION", "JAVA_VERSION", "MODULES")),
     "sdk_from": sdk, "sdk_release": read(os.path.join(sdk, "etc", "tornado.release")),
     "sdk_backends": read(os.path.join(sdk, "etc", "tornado.backend")), "ptx": ptx == "true",
     "ocl_icd_deb": deb or None, "xz_level": int(level), "files": files,
     "total_bytes": sum(f["bytes"] for f in files.values())}
with open(os.path.join(out, "MANIFEST.json"), "w") as f:
    json.dump(m, f, indent=2)
    f.write("\n")
PY

rm -rf "$OUTDIR"
mv "$NEW" "$OUTDIR"
BUNDLE_BYTES=$(du -cb "$OUTDIR"/* | tail -n 1 | cut -f1)
TRACKED_BYTES=$(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r du -cb 2>/dev/null |
    awk '$2 == "total" { s += $1 } END { print s + 0 }')
TOTAL=$((BUNDLE_BYTES + TRACKED_BYTES))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "gpu-bundle: wrote $OUTDIR in $(($(date +%s) - START)) s (PTX: $HAS_PTX)"
for f in "$OUTDIR"/*; do printf '  %-40s %s\n' "$(basename "$f")" "$(mib "$(stat -c %s "$f")")"; done
echo "  bundle $(mib "$BUNDLE_BYTES") + working tree $(mib "$TRACKED_BYTES") = $(mib "$TOTAL") of the 64 MiB that travel"
if [ "$TOTAL" -gt "$LIMIT" ]; then
    echo "gpu-bundle: over the 64 MiB that may travel to the GPU machine" >&2
    exit 2
fi
