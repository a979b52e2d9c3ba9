package io.resflow.parallel;

import io.resflow.engine.Session;
import io.resflow.mpi.Mpi;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The gradient all-reduce in buckets that hides behind the backward, as PyTorch DDP does: the flat gradient (layout
 * order) is cut into buckets of at most {@code bucketFloats} floats counted from its end, the end being what a
 * backward finishes first (the head, the final norm, the last block). When the session reports
 * ({@link Session.GradientsReady}) that a bucket's floats are final, the bucket is copied into a native buffer and its
 * in-place sum is started with {@code MPI_Iallreduce}; every report also tests the buckets in flight (MPI makes
 * progress inside such calls), and a bucket found complete is scaled by 1/N and copied back at once. After the
 * backward, {@link #finish} waits for the rest. Buckets start in the same order on every rank (the layout's), as MPI
 * requires of non-blocking collectives.
 *
 * <p>Same bits as one blocking all-reduce of the whole gradient at N = 2: each float is the sum of the two ranks'
 * values whatever the message it travels in (floating-point addition is commutative), then multiplied by the same
 * 1/N. At N > 2 the order in which the ranks' values are added depends on the algorithm Open MPI picks for a
 * message's size and on where the float sits in the message (see the runner README): results are the same on every
 * rank, but may differ in the last bits from another bucket size.
 *
 * <p>A session that reports everything at once at the end (the default {@link Session#backward(Session.GradientsReady)}:
 * a device backend) is served whole: one copy out, every bucket started, one copy back after the waits; nothing
 * overlaps its backward then, but the buckets still overlap each other's copies and sums.
 */
final class GradientBuckets implements Session.GradientsReady {
    private final Mpi mpi;
    private final float inv;
    private final long total;
    private final long[] lo; // bucket b holds layout floats [lo[b], hi[b]); bucket 0 is the layout's end
    private final long[] hi;
    private final MemorySegment[] requests;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment flat;
    private final float[] chunk;
    private Session session;
    private int started;
    private final boolean[] completed;
    private int completedCount;
    private int early;
    private boolean whole;
    private long nanos;

    GradientBuckets(Mpi mpi, int size, long total, long bucketFloats) {
        this.mpi = mpi;
        this.inv = 1.0f / size;
        this.total = total;
        long cap = cap(bucketFloats);
        int n = count(total, bucketFloats);
        this.lo = new long[n];
        this.hi = new long[n];
        for (int b = 0; b < n; b++) {
            hi[b] = total - b * cap;
            lo[b] = Math.max(0, hi[b] - cap);
        }
        this.requests = new MemorySegment[n];
        for (int b = 0; b < n; b++) {
            requests[b] = mpi.newRequest();
        }
        this.completed = new boolean[n];
        this.flat = arena.allocate(ValueLayout.JAVA_FLOAT, total);
        this.chunk = new float[(int) Math.min(cap, 1 << 16)];
    }

    /** Floats in a full bucket: as asked, at least 1, at most what one MPI call takes. */
    static long cap(long bucketFloats) {
        return Math.min(Math.max(1, bucketFloats), Mpi.MAX_COUNT);
    }

    /** Buckets of a gradient of {@code total} floats. */
    static int count(long total, long bucketFloats) {
        long cap = cap(bucketFloats);
        return (int) ((total + cap - 1) / cap);
    }

    /**
     * Multiplies floats [lo, hi) of {@code flat} by {@code inv}, through {@code chunk} (a heap array: the loop over it
     * vectorises, and it bounds the copies).
     */
    static void scale(MemorySegment flat, long lo, long hi, float inv, float[] chunk) {
        for (long off = lo; off < hi; off += chunk.length) {
            int n = (int) Math.min(chunk.length, hi - off);
            MemorySegment.copy(flat, ValueLayout.JAVA_FLOAT, off * 4, chunk, 0, n);
            for (int i = 0; i < n; i++) {
                chunk[i] *= inv;
            }
            MemorySegment.copy(chunk, 0, flat, ValueLayout.JAVA_FLOAT, off * 4, n);
        }
    }

    int buckets() {
        return lo.length;
    }

    /** Runs the session's backward with the buckets' all-reduce beside it; returns with the averaged gradients. */
    void backward(Session s) {
        session = s;
        started = 0;
        completedCount = 0;
        java.util.Arrays.fill(completed, false);
        whole = false;
        nanos = 0;
        s.backward(this);
        early = completedCount;
        finish();
        session = null;
    }

    @Override
    public void from(long from) {
        long t0 = System.nanoTime();
        if (from == 0 && started == 0) {
            // reported at once (or a model of one bucket): copy the whole gradient in one call
            whole = true;
            session.gradientsTo(flat);
        }
        while (started < lo.length && lo[started] >= from) {
            int b = started++;
            if (!whole) {
                session.gradientsTo(flat, lo[b], hi[b]);
            }
            mpi.iallreduceSumFloats(slice(b), (int) (hi[b] - lo[b]), requests[b]);
        }
        for (int b = 0; b < started; b++) {
            if (!completed[b] && mpi.test(requests[b], "gradient bucket " + b)) {
                complete(b);
            }
        }
        nanos += System.nanoTime() - t0;
    }

    /** Waits for the buckets still in flight and copies them back. */
    private void finish() {
        long t0 = System.nanoTime();
        if (started != lo.length) {
            throw new IllegalStateException("backward ended with " + (lo.length - started) + " of " + lo.length
                    + " gradient buckets not reported final");
        }
        for (int b = 0; b < lo.length; b++) {
            if (!completed[b]) {
                mpi.await(requests[b], "gradient bucket " + b);
                complete(b);
            }
        }
        if (whole) {
            session.gradientsFrom(flat);
        }
        nanos += System.nanoTime() - t0;
    }

    /** Scales bucket b's sum by 1/N and, unless the gradient goes back whole, copies it into the session. */
    private void complete(int b) {
        completed[b] = true;
        completedCount++;
        scale(flat, lo[b], hi[b], inv, chunk);
        if (!whole) {
            session.gradientsFrom(flat, lo[b], hi[b]);
        }
    }

    private MemorySegment slice(int b) {
        return flat.asSlice(lo[b] * 4, (hi[b] - lo[b]) * 4);
    }

    /** Time the training thread spent on the all-reduce in the last backward (copies, starts, tests, waits), ns. */
    long nanos() {
        return nanos;
    }

    /** Buckets that completed before the backward ended, in the last backward (the rest were waited for). */
    int completedDuringBackward() {
        return early;
    }

    void close() {
        arena.close();
    }
}
