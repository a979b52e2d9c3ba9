#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the tests and for trying scripts/slurm/*.sbatch by hand: Debian's
# slurm-wlm 22.05 (slurmctld, slurmd, slurm-client) and munge (apt-get install slurmctld slurmd slurm-client munge;
# .ci/run installs them). Nothing is written under /etc, /var or /run, and the packages' own services are neither
# used nor needed: every file (slurm.conf, a fresh munge key, munged's socket, the daemons' state, spool, pid and
# log files, the job completion log) lives in one folder, ${TMPDIR:-/tmp}/resflow-slurm.XXXXXX.
#
#   eval "$(scripts/slurm-local.sh up)"    # starts munged, slurmctld and slurmd; returns when the node runs jobs
#   sbatch --wait -n 2 ... / srun / squeue / sacct -c
#   scripts/slurm-local.sh down            # stops them and removes the folder (RESFLOW_SLURM_DIR, or give DIR)
#
# `up` prints only `export NAME=value` lines on stdout (SLURM_CONF, RESFLOW_SLURM_DIR; the clients are in /usr/bin,
# so PATH stays); diagnostics go to stderr.
# Each `up` makes its own cluster with its own folder and free ports, so a second one beside a running one works
# (both on this host's name); folders of clusters whose daemons are all gone (a killed test, a reboot) are removed.
# The node has the CPUs this machine has (nproc). Jobs run as the user who ran `up` (root: SlurmUser root).
# Accounting: no slurmdbd; jobcomp/filetxt writes one line per finished job to DIR/jobcomp.txt, which
# `sacct -c` (--completion) reads: `sacct -c -j ID -o JobID,State,ExitCode`.
set -euo pipefail

PREFIX="${TMPDIR:-/tmp}/resflow-slurm."
say() { echo "slurm-local: $*" >&2; }

usage() {
    say "usage: scripts/slurm-local.sh up | down [DIR]"
    exit 2
}

# The pids of a cluster folder's daemons that are still running.
live_pids() {
    local dir="$1" f pid
    for f in "$dir"/run/*.pid; do
        [ -f "$f" ] || continue
        pid="$(cat "$f" 2>/dev/null || true)"
        # a zombie (a killed daemon its new parent has not reaped yet) counts as gone
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" != Z* ]]; then
            echo "$pid"
        fi
    done
}

# Removes the folders of earlier clusters none of whose daemons runs any more.
remove_stale() {
    local d
    for d in "$PREFIX"*; do
        [ -d "$d" ] && [ -f "$d/slurm.conf" ] || continue
        if [ -z "$(live_pids "$d")" ]; then
            say "removing the folder of a stopped cluster: $d"
            rm -rf "$d"
        fi
    done
}

# A TCP port nobody listens on, between 20000 and 29999, other than those given.
free_port() {
    local p used
    used="$(ss -Htln 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)"
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 10000))
        if ! grep -qx "$p" <<<"$used" && [[ " $* " != *" $p "* ]]; then
            echo "$p"
            return 0
        fi
    done
    say "no free TCP port found between 20000 and 29999"
    return 1
}

# Stops the daemons of DIR (first its jobs), waits for them, removes DIR.
stop_cluster() {
    local dir="$1" conf="$1/slurm.conf" pids i
    if [ -f "$conf" ] && [ -n "$(live_pids "$dir")" ]; then
        export SLURM_CONF="$conf"
        if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
            say "cancelling the cluster's jobs"
            # shellcheck disable=SC2046
            scancel $(squeue -h -o %i) 2>/dev/null || true
            for _ in $(seq 40); do
                [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
                sleep 0.5
            done
        fi
        scontrol shutdown >/dev/null 2>&1 || true
        munged -s -S "$dir/sock/munge.socket" >/dev/null 2>&1 || true
        for i in $(seq 40); do
            pids="$(live_pids "$dir")"
            [ -z "$pids" ] && break
            if [ "$i" = 20 ]; then
                # shellcheck disable=SC2086
                kill $pids 2>/dev/null || true
            fi
            sleep 0.5
        done
        pids="$(live_pids "$dir")"
        if [ -n "$pids" ]; then
            say "killing what did not stop: $pids"
            # shellcheck disable=SC2086
            kill -9 $pids 2>/dev/null || true
        fi
        # a job step's slurmstepd that outlived its slurmd (the daemons pass SLURM_CONF on to it)
        for p in $(pgrep -x slurmstepd || true); do
            if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "SLURM_CONF=$conf"; then
                kill -9 "$p" 2>/dev/null || true
            fi
        done
    fi
    rm -rf "$dir"
}

up() {
    local missing=() c
    for c in munged mungekey slurmctld slurmd sbatch srun sinfo squeue sacct scontrol; do
        command -v "$c" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin" command -v "$c" >/dev/null 2>&1 || missing+=("$c")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "not installed: ${missing[*]} (apt-get install slurmctld slurmd slurm-client munge)"
        exit 2
    fi
    export PATH="$PATH:/usr/sbin"
    remove_stale
    local dir host cpus user ctld_port d_port
    dir="$(mktemp -d "${PREFIX}XXXXXX")"
    # munged wants its socket folder and the folders above it searchable by all, its key folder private
    chmod 755 "$dir"
    # from here on a failure stops what was started and removes the folder
    trap 'say "up failed; logs were in $dir/log"; tail -n 20 "$dir"/log/*.log >&2 2>/dev/null || true; stop_cluster "$dir"' ERR
    mkdir -p "$dir"/{munge,sock,state,spool,run,log}
    chmod 700 "$dir/munge"
    host="$(hostname -s)"
    cpus="$(nproc)"
    user="$(id -un)"
    ctld_port="$(free_port)"
    d_port="$(free_port "$ctld_port")"

    mungekey --create --keyfile="$dir/munge/munge.key" --force 2>/dev/null ||
        { dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none; }
    chmod 600 "$dir/munge/munge.key"
    munged --key-file="$dir/munge/munge.key" --socket="$dir/sock/munge.socket" \
        --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" >&2
    : >"$dir/plugstack.conf"
    cat >"$dir/slurm.conf" <<CONF
# written by scripts/slurm-local.sh up
ClusterName=resflow
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=$user
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/sock/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd-%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
PlugStackConfig=$dir/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SwitchType=switch/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
MailProg=/bin/true
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -f "$SLURM_CONF" >&2
    slurmd -f "$SLURM_CONF" >&2
    local state="" i
    for i in $(seq 120); do
        state="$(sinfo -h -N -o %t 2>/dev/null | head -n 1 || true)"
        [ "$state" = idle ] && break
        sleep 0.5
    done
    if [ "$state" != idle ]; then
        say "the node is not idle after 60 s (state '${state:-none}')"
        false
    fi
    if ! timeout 60 srun -N1 -n1 true >&2; then
        say "srun -N1 true failed"
        false
    fi
    trap - ERR
    say "cluster up: node $host ($cpus CPUs), slurmctld port $ctld_port, slurmd port $d_port, folder $dir"
    printf 'export SLURM_CONF=%q\n' "$SLURM_CONF"
    printf 'export RESFLOW_SLURM_DIR=%q\n' "$dir"
}

down() {
    local dir="${1:-${RESFLOW_SLURM_DIR:-}}"
    if [ -z "$dir" ]; then
        say "down: no cluster folder: give it (scripts/slurm-local.sh down DIR) or set RESFLOW_SLURM_DIR (eval the output of up)"
        exit 2
    fi
    if [[ "$dir" != "$PREFIX"* ]] || [ ! -f "$dir/slurm.conf" ]; then
        say "down: $dir is not a folder scripts/slurm-local.sh up made"
        exit 2
    fi
    export PATH="$PATH:/usr/sbin"
    stop_cluster "$dir"
    say "cluster down, $dir removed"
}

case "${1:-}" in
    up) [ $# = 1 ] || usage; up ;;
    down) [ $# -le 2 ] || usage; down "${2:-}" ;;
    *) usage ;;
esac
