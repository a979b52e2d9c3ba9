#!/usr/bin/env bash
# Fuzzing campaign: first proves that Jazzer instruments this project's class files (it must find the bug planted
# behind a 4-byte magic in PlantedBugFuzzTarget), then fuzzes every target for DURATION each (default 10m).
# Findings are written by Jazzer into <module>/src/test/resources/<package>/<Class>Inputs/<method>/crash-*; ./test runs
# them as regression inputs from then on. The generated corpus stays in <module>/.cifuzz-corpus/ (not committed).
#   scripts/fuzz.sh [DURATION]        e.g. scripts/fuzz.sh 30m
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
resflow_select_jdk || exit 2
export JAVA_HOME="$RESFLOW_JAVA_HOME"
DURATION="${1:-10m}"
cd "$ROOT"
TARGETS=(
    "model io.resflow.safetensors.SafeTensorsFuzzTest#header"
    "model io.resflow.model.ModelConfigFuzzTest#modelConfig"
    "runner io.resflow.train.RunConfigFuzzTest#runConfig"
    "runner io.resflow.data.TokenFilesFuzzTest#tokenFile"
)
echo "fuzz: building (JDK $JAVA_HOME)"
./mvnw -q -B install -DskipTests -pl model,backend-jvm,runner -am

fuzz() { # module test duration [extra maven args...]
    local module="$1" test="$2" duration="$3"
    shift 3
    JAZZER_FUZZ=1 ./mvnw -B -pl "$module" test -Dtest="$test" -Djazzer.max_duration="$duration" \
        -Dsurefire.failIfNoSpecifiedTests=false "$@"
}

echo "fuzz: the planted bug (must be found, at most 2 minutes)"
PLANTED="$(mktemp -d)"
trap 'rm -rf "$PLANTED"' EXIT
if fuzz model 'io.resflow.fuzz.PlantedBugFuzzTarget#planted' 120s -Djazzer.internal.basedir="$PLANTED" \
        > "$PLANTED/log" 2>&1; then
    echo "fuzz: FAILED: the fuzzer did not find the planted bug: it is not instrumenting the code (see $PLANTED/log)" >&2
    cat "$PLANTED/log" >&2
    trap - EXIT
    exit 1
fi
if ! grep -q "planted bug reached: magic RFLW" "$PLANTED/log"; then
    echo "fuzz: FAILED: the planted-bug run failed for another reason:" >&2
    cat "$PLANTED/log" >&2
    exit 1
fi
echo "fuzz: found the planted bug: $(grep -m1 -o 'Done [0-9]* runs in [0-9]* second(s)' "$PLANTED/log")"

failed=0
for t in "${TARGETS[@]}"; do
    read -r module test <<< "$t"
    echo "fuzz: $test for $DURATION"
    if fuzz "$module" "$test" "$DURATION" > "$PLANTED/$module-${test##*#}.log" 2>&1; then
        echo "fuzz: $test: no finding ($(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$PLANTED/$module-${test##*#}.log" | tail -1))"
    else
        failed=1
        echo "fuzz: $test: FINDING (the input is under $module/src/test/resources):"
        grep -E "FuzzTestFindingException|== Java Exception|Test unit written to|ERROR\].*Fuzz" "$PLANTED/$module-${test##*#}.log" | head -20
    fi
done
# libFuzzer also writes slow-unit-* files: an input that took more than 10 s, a possible hang, or just a machine
# that was busy or paused (the shared machines here pause jobs while benchmarks run). ./test runs them; delete those
# that run fast.
slow=$(find model/src/test/resources runner/src/test/resources -name 'slow-unit-*' -newer "$PLANTED/log" 2>/dev/null || true)
if [ -n "$slow" ]; then
    echo "fuzz: inputs that ran slowly (check whether they are slow in ./test; delete them if not):"
    echo "$slow"
fi
exit "$failed"
