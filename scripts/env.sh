# Sourced by ./resflow and ./test: selects a JDK 25 and finds an installed TornadoVM SDK.
# Sets RESFLOW_JAVA_HOME, and TORNADO_SDK (empty when none is installed).

resflow_java_version() {
    "$1/bin/java" -XshowSettings:properties -version 2>&1 |
        awk -F'= ' '/java.specification.version/ {print $2; exit}'
}

resflow_select_jdk() {
    local v
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
        v=$(resflow_java_version "$JAVA_HOME")
        if [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null; then
            RESFLOW_JAVA_HOME="$JAVA_HOME"
            return 0
        fi
    fi
    if [ -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ]; then
        RESFLOW_JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
        return 0
    fi
    echo "resflow: a JDK 25 or newer is required: JAVA_HOME is ${JAVA_HOME:-unset}${v:+ (Java $v)} and /usr/lib/jvm/temurin-25-jdk-amd64 does not exist. Install JDK 25 and set JAVA_HOME." >&2
    return 1
}

# TornadoVM is an installed prerequisite: TORNADOVM_HOME if set, else /opt/tornadovm.
resflow_find_tornado() {
    TORNADO_SDK=""
    local dir="${TORNADOVM_HOME:-/opt/tornadovm}"
    if [ -f "$dir/tornado-argfile" ]; then
        TORNADO_SDK="$dir"
    elif [ -n "${TORNADOVM_HOME:-}" ]; then
        echo "resflow: TORNADOVM_HOME=$TORNADOVM_HOME has no tornado-argfile; is it a TornadoVM SDK?" >&2
        return 1
    fi
    if [ -n "$TORNADO_SDK" ] && [ -z "${POCL_CACHE_DIR:-}" ]; then
        export POCL_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/resflow/pocl"
    fi
    [ -z "${POCL_CACHE_DIR:-}" ] || mkdir -p "$POCL_CACHE_DIR"
    return 0
}

# RESFLOW_OCLGRIND=1: oclgrind (the OpenCL work-item simulator) as a second TornadoVM device beside PoCL, through the
# ICD shim the tornado-kernels build makes in tornado-kernels/target/oclgrind (registered only through
# OCL_ICD_VENDORS: a folder there with copies of the system's vendor files plus the shim's; nothing under /etc).
# oclgrind's checks are switched on by the shim; its reports go to RESFLOW_OCLGRIND_LOG_DIR/oclgrind-<pid>.log,
# which the backend reads after every graph it runs there (any report fails the run).
resflow_oclgrind_env() {
    [ "${RESFLOW_OCLGRIND:-0}" = "1" ] || return 0
    if [ -z "$TORNADO_SDK" ]; then
        echo "resflow: RESFLOW_OCLGRIND=1 needs a TornadoVM SDK (TORNADOVM_HOME or /opt/tornadovm)" >&2
        return 1
    fi
    local dir="$1/tornado-kernels/target/oclgrind"
    export OCL_ICD_VENDORS="$dir/vendors"
    export RESFLOW_OCLGRIND_LOG_DIR="${RESFLOW_OCLGRIND_LOG_DIR:-$dir/logs}"
    # TornadoVM writes an accelerator's kernel sources below TORNADOVM_HOME; the backend points that at
    # $dir/kernels, which needs TORNADOVM_HOME set (Oclgrind.redirectKernelSources)
    export TORNADOVM_HOME="$TORNADO_SDK"
    return 0
}

# After the build: the shim and its vendor folder must exist.
resflow_oclgrind_check() {
    [ "${RESFLOW_OCLGRIND:-0}" = "1" ] || return 0
    if [ ! -f "$OCL_ICD_VENDORS/resflow-oclgrind.icd" ]; then
        echo "resflow: RESFLOW_OCLGRIND=1 but the oclgrind shim is not built ($OCL_ICD_VENDORS/resflow-oclgrind.icd): install oclgrind, gcc and opencl-c-headers, then rebuild (./mvnw -pl tornado-kernels -am install -DskipTests)" >&2
        return 1
    fi
    mkdir -p "$RESFLOW_OCLGRIND_LOG_DIR"
}

resflow_runner_jar() { ls "$1"/runner/target/resflow-runner-*.jar 2>/dev/null | grep -v -- '-tests.jar' | head -n 1; }
resflow_kernels_jar() {
    ls "$1"/tornado-kernels/target/resflow-tornado-kernels-*.jar 2>/dev/null | grep -v -- '-tests.jar' | head -n 1
}

# Builds the project (mvnw install, no tests) when nothing is built yet, or when any source or pom under ROOT ($1)
# changed since the last build this function made (its stamp: runner/target/.resflow-build-stamp). Needs
# JAVA_HOME set to a JDK 25 and TORNADO_SDK from resflow_find_tornado. Returns 1 when the build fails.
resflow_build_if_needed() {
    local root="$1" stamp="$1/runner/target/.resflow-build-stamp"
    _resflow_needs_build "$root" "$stamp" || return 0
    # one build at a time: the processes mpirun starts all run the launcher at once
    mkdir -p "$root/runner/target"
    exec 9>"$root/runner/target/.resflow-build.lock"
    flock 9
    if _resflow_needs_build "$root" "$stamp"; then
        echo "resflow: building (first run or sources changed)..." >&2
        if ! (cd "$root" && MAVEN_OPTS="${MAVEN_OPTS:-} --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow" \
            ./mvnw -q -B -DskipTests install >&2); then
            echo "resflow: build failed" >&2
            exec 9>&-
            return 1
        fi
        touch "$stamp"
    fi
    exec 9>&-
}

# Whether resflow_build_if_needed must build: nothing built yet, or a source or pom newer than the stamp ($2).
_resflow_needs_build() {
    local root="$1" stamp="$2"
    if [ -z "$(resflow_runner_jar "$root")" ] || [ ! -d "$root/runner/target/lib" ] || [ ! -f "$stamp" ]; then
        return 0
    elif [ -n "$TORNADO_SDK" ] && [ -z "$(resflow_kernels_jar "$root")" ]; then
        return 0
    elif [ "${RESFLOW_OCLGRIND:-0}" = "1" ] && [ ! -f "${OCL_ICD_VENDORS:-}/resflow-oclgrind.icd" ]; then
        return 0
    fi
    [ -n "$(find "$root"/model/src "$root"/backend-jvm/src "$root"/runner/src "$root"/tornado-kernels/src \
        "$root"/pom.xml "$root"/*/pom.xml -newer "$stamp" -type f 2>/dev/null | head -n 1)" ]
}

# The java command line of the CLI, shared by ./resflow and the GPU bundle's launcher (scripts/gpu-launcher), so
# both start the JVM the same way. Arguments: JAVA_HOME, class path, TornadoVM argfile (empty: no TornadoVM), then
# the JVM options of every command (the callers give "@<their copy of scripts/java-options>"). RESFLOW_JAVA_OPTS
# comes after them. Sets RESFLOW_JAVA_CMD (an array; the caller appends the CLI's arguments) and, with TornadoVM,
# LD_PRELOAD.
resflow_java_cmd() {
    local jh="$1" cp="$2" argfile="$3"
    shift 3
    RESFLOW_JAVA_CMD=("$jh/bin/java")
    if [ -n "$argfile" ]; then
        # TornadoVM's argfile selects ParallelGC; switch it off again so that G1 (scripts/java-options) applies
        RESFLOW_JAVA_CMD+=("@$argfile" -XX:-UseParallelGC -Dtornado.recover.bailout=False
            -Dtornado.tvm.maxbytecodesize=262144)
        # JVM signal chaining: without it a native library loaded by TornadoVM/OpenCL can take over a signal the JVM
        # relies on (see tornado-kernels/README.md).
        if [ -f "$jh/lib/libjsig.so" ]; then
            export LD_PRELOAD="$jh/lib/libjsig.so${LD_PRELOAD:+:$LD_PRELOAD}"
        fi
    fi
    RESFLOW_JAVA_CMD+=("$@")
    # shellcheck disable=SC2206
    RESFLOW_JAVA_CMD+=(${RESFLOW_JAVA_OPTS:-})
    RESFLOW_JAVA_CMD+=(-cp "$cp" io.resflow.cli.Main)
}

# One hash of what the GPU bundle's jars and launcher are made from: the sources and poms, and the scripts the bundle
# copies (env.sh, gpu-launcher, java-options). scripts/gpu-bundle.sh records it; scripts/gpu-run.sh compares.
resflow_source_hash() {
    (cd "$1" && find model/src backend-jvm/src runner/src tornado-kernels/src pom.xml model/pom.xml backend-jvm/pom.xml \
        runner/pom.xml tornado-kernels/pom.xml scripts/env.sh scripts/gpu-launcher scripts/java-options -type f -print0 \
        2>/dev/null | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}
