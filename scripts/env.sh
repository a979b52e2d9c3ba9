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
