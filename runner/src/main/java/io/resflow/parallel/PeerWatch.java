package io.resflow.parallel;

import io.resflow.model.ExitCodes;
import io.resflow.mpi.Mpi;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * What a rank does when another rank of the job dies (killed, out of memory, a crash): it stops within a second with
 * exit code 3 and one line naming the rank that ended, and the last checkpoint stays as it was (rank 0 writes
 * checkpoints atomically, so a stop in the middle of one leaves only a temporary file).
 *
 * <p>How: a {@link Heartbeat} over MPI notices a rank on any host that falls silent (dead, or its host unreachable)
 * within its timeout (6 s by default). Beside it, at start the ranks exchange their process ids and host names (one
 * all-reduce), and a daemon thread looks every 200 ms at the processes of the ranks on the same host
 * ({@code /proc/<pid>/stat}: gone or a zombie means ended), which is faster there; {@code RESFLOW_PID_WATCH=0}
 * switches that off (the tests of the heartbeat do). Open MPI's {@code mpirun} also stops the job when a process ends abnormally, by sending SIGTERM to the
 * others; this class handles that signal the same way, naming the ranks on this host whose processes are gone, or
 * saying that the rank that ended is on another host (mpirun's own message names it). Either way the process prints
 * its line, waits 200 ms (so that the other survivors see the same processes) and halts with exit code 3.
 */
public final class PeerWatch {
    private static final long POLL_MS = 200;
    private static final long GRACE_MS = 200;

    private final int rank;
    private final int size;
    private final long[] pids;
    private final boolean[] sameHost;
    private final Supplier<String> lastCheckpoint;
    private final Thread thread;
    private volatile boolean stopped;
    private volatile boolean stopping;
    private volatile int exitCode = ExitCodes.RUNTIME_FAILURE;
    private final boolean pidWatch;
    private Heartbeat heartbeat;
    private volatile String silent;

    private PeerWatch(int rank, int size, long[] pids, boolean[] sameHost, Supplier<String> lastCheckpoint,
            boolean pidWatch) {
        this.pidWatch = pidWatch;
        this.rank = rank;
        this.size = size;
        this.pids = pids;
        this.sameHost = sameHost;
        this.lastCheckpoint = lastCheckpoint;
        this.thread = Thread.ofPlatform().daemon().name("resflow-peer-watch").unstarted(this::poll);
    }

    /** Exchanges process ids and hosts (a collective: every rank calls it), then starts watching. */
    static PeerWatch start(Mpi mpi, int rank, int size, Supplier<String> lastCheckpoint) {
        long[] v = new long[2 * size];
        java.util.Arrays.fill(v, Long.MIN_VALUE);
        v[rank] = ProcessHandle.current().pid();
        v[size + rank] = DataParallel.hash64(hostName());
        mpi.allreduceMax(v);
        long[] pids = new long[size];
        boolean[] same = new boolean[size];
        for (int r = 0; r < size; r++) {
            pids[r] = v[r];
            same[r] = v[size + r] == v[size + rank];
        }
        PeerWatch w = new PeerWatch(rank, size, pids, same, lastCheckpoint,
                !"0".equals(System.getenv("RESFLOW_PID_WATCH")));
        if (mpi.threadMultiple()) {
            double timeout = Heartbeat.timeoutSeconds(System.getenv("RESFLOW_HEARTBEAT_TIMEOUT"));
            w.heartbeat = Heartbeat.start(mpi, rank, size, timeout, (r, silence) -> {
                w.silent = String.format(java.util.Locale.ROOT, "rank %d stopped answering (no heartbeat for %.1f s: "
                        + "it died, hangs outside the JVM, or its host is unreachable)", r, silence);
                w.fail(false);
            });
        }
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("TERM"), sig -> w.fail(true));
        } catch (IllegalArgumentException e) {
            // the signal is reserved by the JVM here (-Xrs): mpirun's SIGTERM then ends the process as before
        }
        w.thread.start();
        return w;
    }

    static String hostName() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
        } catch (IOException e) {
            String h = System.getenv("HOSTNAME");
            return h != null ? h : "unknown";
        }
    }

    /**
     * Stops watching (before MPI_Finalize: the other ranks may then end before this one, normally); a SIGTERM from
     * here on ends the process with {@code code}, the code it is about to exit with.
     */
    void stop(int code) {
        exitCode = code;
        stopped = true;
        thread.interrupt();
        if (heartbeat != null) {
            heartbeat.stop();
        }
    }

    /** For the header: what watches the other ranks. */
    String describe() {
        String hb = heartbeat == null ? "no heartbeat (the MPI library did not grant MPI_THREAD_MULTIPLE)"
                : String.format(java.util.Locale.ROOT, "a heartbeat over MPI every %.1f s, a rank silent for %.0f s "
                        + "is taken for dead", Heartbeat.BEAT_MS / 1e3, heartbeat.timeoutSeconds());
        return hb + "; " + (pidWatch ? "the processes of the ranks on this host watched every 200 ms"
                : "no process watch (RESFLOW_PID_WATCH=0)");
    }

    private void poll() {
        while (!stopped && pidWatch) {
            try {
                Thread.sleep(POLL_MS);
            } catch (InterruptedException e) {
                return;
            }
            if (!stopped && !ended().isEmpty()) {
                fail(false);
            }
        }
    }

    /** Ranks on this host whose process is gone (or a zombie). */
    private List<Integer> ended() {
        List<Integer> out = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            if (r != rank && sameHost[r] && pidWatch && !alive(pids[r])) {
                out.add(r);
            }
        }
        return out;
    }

    static boolean alive(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            int close = stat.lastIndexOf(')');
            char state = close >= 0 && close + 2 < stat.length() ? stat.charAt(close + 2) : '?';
            return state != 'Z' && state != 'X';
        } catch (IOException e) {
            return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
        }
    }

    private synchronized void fail(boolean signalled) {
        if (stopping) {
            return;
        }
        stopping = true;
        if (stopped && signalled) {
            // after training, during MPI_Finalize: the launcher stops a job whose other rank failed collectively
            Runtime.getRuntime().halt(exitCode == 0 ? ExitCodes.RUNTIME_FAILURE : exitCode);
        }
        List<Integer> gone = ended();
        String who;
        if (silent != null && gone.isEmpty()) {
            who = silent;
        } else if (!gone.isEmpty()) {
            List<String> names = new ArrayList<>();
            for (int r : gone) {
                names.add(r + " (pid " + pids[r] + ")");
            }
            who = "rank" + (gone.size() > 1 ? "s " : " ") + String.join(", ", names) + " ended";
        } else {
            boolean others = false;
            for (int r = 0; r < size; r++) {
                others |= r != rank && !sameHost[r];
            }
            who = others ? "the launcher stopped the job: a rank on another host ended or aborted (mpirun names it)"
                    : "the launcher stopped the job: another rank aborted (its message says why)";
        }
        String ck = lastCheckpoint.get();
        PrintStream err = System.err;
        err.println("runtime failure: rank " + rank + " of " + size + ": " + who + "; stopping with exit code 3; "
                + (ck != null ? "last good checkpoint: " + ck : "no checkpoint was written"));
        err.flush();
        try {
            Thread.sleep(GRACE_MS);
        } catch (InterruptedException e) {
            // halt anyway
        }
        Runtime.getRuntime().halt(ExitCodes.RUNTIME_FAILURE);
    }
}
