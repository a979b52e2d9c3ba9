# Sourced by the batch scripts in this folder (scripts/slurm/*.sbatch), inside a job: finds the resflow checkout
# and the command to run. sbatch runs a copy of the script from Slurm's spool folder, so `dirname $0` is not the
# checkout; SLURM_SUBMIT_DIR (where sbatch was run) is. Sets RESFLOW_CHECKOUT (and cds there) and RESFLOW_CMD:
# RESFLOW when set (another executable to run instead of ./resflow: the tests point it at a java command line with
# their class path), else the checkout's ./resflow, built here once if the sources changed (./resflow would build
# in every task at once; its lock would make them wait).
# $1: the script's name, for messages.
resflow_job_setup() {
    local me="$1"
    RESFLOW_CHECKOUT="${SLURM_SUBMIT_DIR:-}"
    if [ ! -x "$RESFLOW_CHECKOUT/resflow" ] || [ ! -f "$RESFLOW_CHECKOUT/scripts/slurm/common.sh" ]; then
        echo "$me: $RESFLOW_CHECKOUT (SLURM_SUBMIT_DIR) is not a resflow checkout (no ./resflow): run sbatch from the checkout" >&2
        return 2
    fi
    cd "$RESFLOW_CHECKOUT" || return 2
    RESFLOW_CMD="${RESFLOW:-$RESFLOW_CHECKOUT/resflow}"
    if [ "$RESFLOW_CMD" = "$RESFLOW_CHECKOUT/resflow" ]; then
        source "$RESFLOW_CHECKOUT/scripts/env.sh"
        resflow_select_jdk || return 2
        resflow_find_tornado || return 2
        JAVA_HOME="$RESFLOW_JAVA_HOME" resflow_build_if_needed "$RESFLOW_CHECKOUT" || return 3
    fi
}
