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
