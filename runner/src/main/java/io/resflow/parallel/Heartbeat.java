package io.resflow.parallel;

import io.resflow.mpi.Mpi;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.BiConsumer;

/**
 * A heartbeat over MPI itself, so that a rank that dies is noticed by the others wherever it ran (another host
 * included, where no process id can be watched): every rank sends every other rank a one-int message every
 * {@link #BEAT_MS} ms on a communicator of its own (a duplicate of the world, so the beats never meet the training's
 * messages), from a daemon thread that runs beside the training thread (MPI_THREAD_MULTIPLE). A peer not heard from
 * for the timeout ({@code RESFLOW_HEARTBEAT_TIMEOUT} seconds, default {@value #DEFAULT_TIMEOUT_S}) is reported dead.
 * A rank that ends normally says goodbye first, so a peer that finishes (or writes a last checkpoint) later does not
 * take its silence for a death.
 *
 * <p>Why a thread and not the training loop: a dead rank leaves the others blocked inside a collective that never
 * completes; only another thread can still notice. The beats are tiny eager messages, and the thread's MPI_Test
 * calls also drive the library's progress for the gradient buckets in flight.
 */
final class Heartbeat {
    static final long BEAT_MS = 500;
    static final long POLL_MS = 50;
    static final double DEFAULT_TIMEOUT_S = 6;
    private static final int TAG = 7;
    private static final int BEAT = 1;
    private static final int BYE = 2;

    private final Mpi mpi;
    private final int rank;
    private final int size;
    private final double timeoutSeconds;
    private final long timeoutNanos;
    private final BiConsumer<Integer, Double> dead;
    private final MemorySegment comm;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment[] recvBuf;
    private final MemorySegment[] recvReq;
    private final MemorySegment[] sendReq;
    private final boolean[] sending;
    private final long[] heard;
    private final boolean[] gone;
    private final MemorySegment beat;
    private final MemorySegment bye;
    private final MemorySegment flag;
    private final Thread thread;
    private volatile boolean stopped;

    /**
     * Duplicates the world communicator (a collective: every rank calls it) and starts beating.
     *
     * @param dead told (rank, seconds of silence) once, from the heartbeat thread, when a peer falls silent
     */
    static Heartbeat start(Mpi mpi, int rank, int size, double timeoutSeconds, BiConsumer<Integer, Double> dead) {
        Heartbeat h = new Heartbeat(mpi, rank, size, timeoutSeconds, dead);
        h.thread.start();
        return h;
    }

    private Heartbeat(Mpi mpi, int rank, int size, double timeoutSeconds, BiConsumer<Integer, Double> dead) {
        this.mpi = mpi;
        this.rank = rank;
        this.size = size;
        this.timeoutSeconds = timeoutSeconds;
        this.timeoutNanos = (long) (timeoutSeconds * 1e9);
        this.dead = dead;
        this.comm = mpi.dupWorld();
        this.recvBuf = new MemorySegment[size];
        this.recvReq = new MemorySegment[size];
        this.sendReq = new MemorySegment[size];
        this.sending = new boolean[size];
        this.heard = new long[size];
        this.gone = new boolean[size];
        this.beat = arena.allocateFrom(ValueLayout.JAVA_INT, BEAT);
        this.bye = arena.allocateFrom(ValueLayout.JAVA_INT, BYE);
        this.flag = arena.allocate(ValueLayout.JAVA_INT);
        long now = System.nanoTime();
        for (int r = 0; r < size; r++) {
            if (r != rank) {
                recvBuf[r] = arena.allocate(ValueLayout.JAVA_INT);
                recvReq[r] = mpi.newRequest();
                sendReq[r] = mpi.newRequest();
                heard[r] = now;
                mpi.irecvInts(recvBuf[r], 1, r, TAG, comm, recvReq[r]);
            }
        }
        this.thread = Thread.ofPlatform().daemon().name("resflow-heartbeat").unstarted(this::run);
    }

    /** Seconds of silence after which a peer is taken for dead. */
    double timeoutSeconds() {
        return timeoutSeconds;
    }

    /** The timeout from {@code RESFLOW_HEARTBEAT_TIMEOUT} (seconds, > 0), else the default. */
    static double timeoutSeconds(String env) {
        if (env == null || env.isBlank()) {
            return DEFAULT_TIMEOUT_S;
        }
        try {
            double s = Double.parseDouble(env.strip());
            return s > 0 ? s : DEFAULT_TIMEOUT_S;
        } catch (NumberFormatException e) {
            return DEFAULT_TIMEOUT_S;
        }
    }

    private void run() {
        long lastBeat = 0;
        while (!stopped) {
            long now = System.nanoTime();
            if (now - lastBeat >= BEAT_MS * 1_000_000) {
                send(beat);
                lastBeat = now;
            }
            for (int r = 0; r < size; r++) {
                if (r == rank || gone[r]) {
                    continue;
                }
                if (mpi.testQuiet(recvReq[r], flag) != 0) {
                    // the library itself reports the peer unreachable (e.g. a broken TCP connection)
                    report(r, now);
                    return;
                }
                if (flag.get(ValueLayout.JAVA_INT, 0) != 0) {
                    heard[r] = now;
                    if (recvBuf[r].get(ValueLayout.JAVA_INT, 0) == BYE) {
                        gone[r] = true;
                        continue;
                    }
                    mpi.irecvInts(recvBuf[r], 1, r, TAG, comm, recvReq[r]);
                } else if (now - heard[r] > timeoutNanos) {
                    report(r, now);
                    return;
                }
            }
            try {
                Thread.sleep(POLL_MS);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void report(int r, long now) {
        if (!stopped) {
            dead.accept(r, (now - heard[r]) / 1e9);
        }
    }

    /** A beat (or goodbye) to every peer still listening whose last message has left. */
    private void send(MemorySegment what) {
        for (int r = 0; r < size; r++) {
            if (r == rank || gone[r]) {
                continue;
            }
            if (sending[r]) {
                if (mpi.testQuiet(sendReq[r], flag) != 0 || flag.get(ValueLayout.JAVA_INT, 0) == 0) {
                    continue; // the previous beat has not left: the peer is slow or gone, the receiver side decides
                }
            }
            sending[r] = mpi.isendInts(what, 1, r, TAG, comm, sendReq[r]) == 0;
        }
    }

    /**
     * Ends the beats (before MPI_Finalize): joins the thread, says goodbye to every peer and cancels the receives
     * still posted, giving the goodbyes up to a second to leave.
     */
    void stop() {
        if (stopped) {
            return;
        }
        stopped = true;
        thread.interrupt();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (int r = 0; r < size; r++) {
            if (r == rank) {
                continue;
            }
            if (sending[r]) {
                waitQuietly(sendReq[r], 1000);
            }
            sending[r] = mpi.isendInts(bye, 1, r, TAG, comm, sendReq[r]) == 0;
        }
        for (int r = 0; r < size; r++) {
            if (r == rank) {
                continue;
            }
            if (sending[r]) {
                waitQuietly(sendReq[r], 1000);
            }
            if (!gone[r]) {
                mpi.cancelQuiet(recvReq[r]);
                waitQuietly(recvReq[r], 1000);
            }
        }
    }

    private void waitQuietly(MemorySegment request, long ms) {
        long end = System.nanoTime() + ms * 1_000_000;
        while (System.nanoTime() < end) {
            if (mpi.testQuiet(request, flag) != 0 || flag.get(ValueLayout.JAVA_INT, 0) != 0) {
                return;
            }
            Thread.onSpinWait();
        }
    }
}
