package io.resflow.parallel;

import io.resflow.model.ExitCodes;
import io.resflow.engine.Session;
import io.resflow.model.BadInputException;
import io.resflow.model.RuntimeFailure;
import io.resflow.model.Tensor;
import io.resflow.mpi.Launch;
import io.resflow.mpi.Mpi;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Data-parallel training over the processes an MPI launcher started ({@code mpirun -np N ./resflow run CONFIG}):
 * every rank holds the whole model and trains on its own share of every global batch; the flat gradient is summed
 * over the ranks and divided by N (the gradient of the global batch's mean loss), in buckets all-reduced during the
 * backward ({@link GradientBuckets}) or with one {@code MPI_Allreduce} after it, so every rank clips and updates with the same numbers, and the parameters stay bit-identical (checked
 * with an all-reduce of a hash at the start, every {@code param_check_every} steps, at every checkpoint and at the
 * last step). Only rank 0 writes.
 *
 * <p>Without a launcher (or with {@code mpi: off} and one process) this is {@link #single()}: nothing of MPI is
 * loaded, and every method is the identity.
 *
 * <p>Failures: a failure every rank sees (NaN, a config that differs, bad input found by all) is <em>collective</em>:
 * each rank prints it and exits with its code after {@code MPI_Finalize}. A failure on one rank only (rank 0 cannot
 * write) aborts the job ({@code MPI_Abort} with the exit code). A rank that dies is handled by {@link PeerWatch}.
 */
public final class DataParallel implements AutoCloseable {

    /** How the run config's {@code mpi} field (or {@code --mpi}) asks for data parallelism. */
    public enum Mode {
        AUTO, ON, OFF;

        public static Mode parse(String s, String where) {
            try {
                return valueOf(s.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new BadInputException(where + " must be auto, on or off, got '" + s + "'");
            }
        }
    }

    /** A failure every rank raised at the same point: each exits with it, none aborts the others. */
    public static final class Collective extends RuntimeException {
        public final RuntimeException failure;

        public Collective(RuntimeException failure) {
            super(failure.getMessage(), failure);
            this.failure = failure;
        }
    }

    private final Mpi mpi;
    private final int rank;
    private final int size;
    private Arena arena;
    private MemorySegment flat;
    private long floats;
    private long reduceNanos;
    private long hashNanos;
    private int checks;
    /** Time of a local hash alone, compiled, at the start (what an automatic interval is chosen from). */
    private long startHashNanos;
    /** Steps between parameter checks: 0 until chosen ({@link #checkEvery(int)} with 0: after the first step). */
    private int checkEvery;
    private long reduceTotal;
    private PeerWatch watch;
    /** Test hook: the rank whose parameters are nudged by one ulp after the first step's update (-1: none). */
    public int testPerturbRank = -1;

    private DataParallel(Mpi mpi) {
        this.mpi = mpi;
        this.rank = mpi == null ? 0 : mpi.rank();
        this.size = mpi == null ? 1 : mpi.size();
    }

    public static DataParallel single() {
        return new DataParallel(null);
    }

    /**
     * Starts data parallelism as {@code mode} asks, given the launch the environment shows (null: none).
     *
     * @param where the config field or option that set the mode, for messages
     */
    public static DataParallel start(Mode mode, Launch launch, String where) {
        if (launch == null) {
            if (mode == Mode.ON) {
                throw new BadInputException(where + " is 'on', but no MPI launcher started this process (no "
                        + "OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK in the environment): launch it with "
                        + "mpirun -np N ./resflow run CONFIG, or set it to auto");
            }
            return single();
        }
        if (mode == Mode.OFF) {
            if (launch.size() > 1) {
                throw new BadInputException(where + " is 'off', but " + launch.describe() + " started " + launch.size()
                        + " processes, which would each train alone into the same folder: launch one process, or "
                        + "set it to auto or on");
            }
            return single();
        }
        return new DataParallel(Mpi.init());
    }

    public boolean distributed() {
        return mpi != null && size > 1;
    }

    /** Whether MPI was initialised (also with one process). */
    public boolean mpi() {
        return mpi != null;
    }

    public int rank() {
        return rank;
    }

    public int size() {
        return size;
    }

    /** Only rank 0 writes run.json, metrics and checkpoints, and prints the run's lines. */
    public boolean writer() {
        return rank == 0;
    }

    String version() {
        return mpi == null ? "" : mpi.version();
    }

    private long bucketFloats;
    private GradientBuckets buckets;
    private long early;

    /** Time spent in the gradient all-reduce (copies out and back included) since the last call, in ms. */
    public double takeReduceMs() {
        double ms = reduceNanos / 1e6;
        reduceTotal += reduceNanos;
        reduceNanos = 0;
        return ms;
    }

    /** All-reduce time of every step so far (after {@link #takeReduceMs}), in ms. */
    public double reduceMsTotal() {
        return (reduceTotal + reduceNanos) / 1e6;
    }

    /** Time spent hashing the parameters and comparing the hashes (all checks), in ms. */
    public double hashMsTotal() {
        return hashNanos / 1e6;
    }

    /** Parameter checks made so far (the one at the start included). */
    public int checks() {
        return checks;
    }

    /**
     * Steps between parameter checks: {@code every} >= 1 as given, 0 to choose after the first step from the check's
     * cost (see {@link #afterStep}). Set before the check at the start, which then also times the hash.
     */
    public void checkEvery(int every) {
        this.checkEvery = every;
    }

    /** For the header: how often the parameters are compared across ranks. */
    public String checkRule() {
        return checkEvery > 0 ? "every " + checkEvery + " step" + (checkEvery == 1 ? "" : "s")
                : String.format(Locale.ROOT, "every k steps, k chosen after the first step so that the check "
                        + "costs at most %.0f%% of a step (hashing the parameters took %.1f ms at the start)",
                        100 * AUTO_SHARE, startHashNanos / 1e6);
    }

    /** The share of a step an automatically spaced parameter check may cost, amortised. */
    static final double AUTO_SHARE = 0.01;

    /** The most steps between two checks when the interval is automatic. */
    static final int AUTO_MAX = 100;

    /**
     * After step {@code step}'s update, which took {@code stepMs}: the parameter check when it is due (every k
     * steps, or {@code mustCheck}: a checkpoint or the last step), so a divergence is caught at most k - 1 steps after
     * it. With an automatic interval, the first call chooses k from the start check's hash time and this step's time,
     * the same on every rank (the largest any rank asks for), and returns a line that says so (else null).
     */
    public String afterStep(Session s, int step, boolean mustCheck, double stepMs) {
        if (rank == testPerturbRank) {
            testPerturbRank = -1;
            float[] w = s.params().tensors().iterator().next().data();
            w[0] = Math.nextUp(w[0]);
        }
        if (!distributed()) {
            return null;
        }
        String said = null;
        if (checkEvery == 0) {
            double hashMs = startHashNanos / 1e6;
            long[] k = {autoInterval(hashMs, stepMs)};
            mpi.allreduceMax(k);
            checkEvery = (int) k[0];
            said = String.format(Locale.ROOT, "parameter check every %d step%s (hash %.1f ms against a %.1f ms step "
                    + "on rank %d)", checkEvery, checkEvery == 1 ? "" : "s", hashMs, stepMs, rank);
        }
        if (mustCheck || step % checkEvery == 0) {
            requireSameParameters(s, "step " + step);
        }
        return said;
    }

    /** The fewest steps between checks that keep their amortised cost within {@link #AUTO_SHARE} of a step. */
    static int autoInterval(double hashMs, double stepMs) {
        if (!(stepMs > 0)) {
            return 1;
        }
        double k = Math.ceil(hashMs / (AUTO_SHARE * stepMs));
        return (int) Math.max(1, Math.min(AUTO_MAX, k));
    }

    /**
     * Runs {@code setup} on every rank and agrees on the outcome: when any rank failed, every rank fails (the failing
     * ranks with their own error, the others naming them), so no rank waits in a collective the others never reach.
     */
    public <T> T agree(Supplier<T> setup) {
        if (!distributed()) {
            return setup.get();
        }
        T value = null;
        RuntimeException failure = null;
        try {
            value = setup.get();
        } catch (RuntimeException e) {
            failure = e;
        }
        int[] codes = new int[size];
        codes[rank] = failure == null ? 0 : failure instanceof BadInputException ? ExitCodes.BAD_INPUT : ExitCodes.RUNTIME_FAILURE;
        mpi.allreduceMax(codes);
        if (failure != null) {
            throw new Collective(failure);
        }
        List<String> failed = new ArrayList<>();
        int code = 0;
        for (int r = 0; r < size; r++) {
            if (codes[r] != 0) {
                failed.add(Integer.toString(r));
                code = Math.max(code, codes[r]);
            }
        }
        if (!failed.isEmpty()) {
            String msg = "rank " + rank + ": stopping because rank" + (failed.size() > 1 ? "s " : " ")
                    + String.join(", ", failed) + " failed (see " + (failed.size() > 1 ? "their messages" : "its message")
                    + ")";
            throw new Collective(code == ExitCodes.BAD_INPUT ? new BadInputException(msg) : new RuntimeFailure(msg));
        }
        return value;
    }

    /**
     * Refuses (exit 2 on every rank) a job whose ranks were given different run configs or options: rank 0
     * broadcasts the SHA-256 of its {@code description}, every rank compares, and all learn which differ.
     */
    public void requireSameConfig(String description, String configFile) {
        if (!distributed()) {
            return;
        }
        long mine = hash64(description);
        long[] root = {mine};
        mpi.bcast(root, 0);
        int[] differs = new int[size];
        differs[rank] = root[0] == mine ? 0 : 1;
        mpi.allreduceMax(differs);
        List<String> bad = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            if (differs[r] != 0) {
                bad.add(Integer.toString(r));
            }
        }
        if (!bad.isEmpty()) {
            throw new Collective(new BadInputException(configFile + ": the ranks of this job were given different run "
                    + "configs or options: rank" + (bad.size() > 1 ? "s " : " ") + String.join(", ", bad)
                    + " differ" + (bad.size() > 1 ? "" : "s") + " from rank 0 (this is rank " + rank + ", config hash "
                    + String.format("%016x", mine) + ", rank 0's " + String.format("%016x", root[0])
                    + "); every rank must run the same config with the same options"));
        }
    }

    static long hash64(String s) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            long h = 0;
            for (int i = 0; i < 8; i++) {
                h = (h << 8) | (d[i] & 0xff);
            }
            return h;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The mean over the ranks of each rank's loss (equal weights: every rank has the same batch shape). */
    public double meanLoss(double local) {
        if (!distributed()) {
            return local;
        }
        double[] v = {local};
        mpi.allreduceSum(v);
        return v[0] / size;
    }

    /** Bytes one rank sends into the gradient all-reduce per step (the flat float32 gradient). */
    public long gradientBytes(Session s) {
        return 4L * s.grads().totalSize();
    }

    /**
     * Sets the all-reduce's bucket size in floats (0: one blocking all-reduce after the backward); before the first
     * {@link #backward}.
     */
    public void bucketFloats(long floats) {
        this.bucketFloats = floats;
    }

    /** For the header: how the gradient is all-reduced. */
    public String reduceRule(long count) {
        if (bucketFloats == 0) {
            return "one blocking MPI_Allreduce after the backward (allreduce_bucket_mb 0)";
        }
        int b = GradientBuckets.count(count, bucketFloats);
        return String.format(Locale.ROOT, "in %d bucket%s of up to %.1f MB, each started with MPI_Iallreduce as soon "
                + "as the backward has finished its gradients", b, b == 1 ? "" : "s",
                4e-6 * Math.min(GradientBuckets.cap(bucketFloats), count));
    }

    /**
     * The session's backward, after which its gradients are their mean over the ranks: with buckets, their
     * all-reduce runs beside the backward ({@link GradientBuckets}); else one blocking all-reduce follows it
     * ({@link #averageGradients}). One process: the backward alone.
     */
    public void backward(Session s, long count) {
        if (!distributed()) {
            s.backward();
            return;
        }
        if (bucketFloats == 0) {
            s.backward();
            averageGradients(s, count);
            return;
        }
        if (buckets == null) {
            buckets = new GradientBuckets(mpi, size, count, bucketFloats);
        }
        buckets.backward(s);
        reduceNanos += buckets.nanos();
        early += buckets.completedDuringBackward();
    }

    /** Buckets whose all-reduce completed before their backward ended, over all steps so far, and all buckets. */
    public long[] bucketsEarly(int steps) {
        return new long[] {early, buckets == null ? 0 : (long) buckets.buckets() * steps};
    }

    /**
     * Replaces the session's gradients with their mean over the ranks: copies them into one native buffer, sums it
     * in place with MPI_Allreduce, multiplies by 1/N and copies them back. Every rank ends with the same bits.
     */
    public void averageGradients(Session s, long count) {
        if (!distributed()) {
            return;
        }
        long t0 = System.nanoTime();
        if (flat == null || floats != count) {
            if (arena != null) {
                arena.close();
            }
            arena = Arena.ofShared();
            flat = arena.allocate(ValueLayout.JAVA_FLOAT, count);
            floats = count;
        }
        s.gradientsTo(flat);
        mpi.allreduceSumFloats(flat, count);
        GradientBuckets.scale(flat, 0, count, 1.0f / size, new float[(int) Math.min(count, 1 << 16)]);
        s.gradientsFrom(flat);
        reduceNanos += System.nanoTime() - t0;
    }

    /**
     * Checks that every rank holds bit-identical parameters: an all-reduce (max) of each rank's 64-bit hash h and of
     * its complement ~h gives the largest and the smallest hash; they differ exactly when some rank differs. Then
     * rank 0's hash is broadcast and the ranks that differ from it are named. A collective runtime failure (exit 3).
     */
    public void requireSameParameters(Session s, String when) {
        if (!distributed()) {
            return;
        }
        long t0 = System.nanoTime();
        long h = parameterHash(s);
        if (checks++ == 0 && checkEvery == 0) {
            // the first hash runs mostly before the JIT has compiled it: time a second one for the interval
            long t1 = System.nanoTime();
            parameterHash(s);
            startHashNanos = System.nanoTime() - t1;
        }
        long[] v = {h, ~h};
        mpi.allreduceMax(v);
        hashNanos += System.nanoTime() - t0;
        if (v[0] == ~v[1]) {
            return;
        }
        long[] root = {h};
        mpi.bcast(root, 0);
        int[] differs = new int[size];
        differs[rank] = root[0] == h ? 0 : 1;
        mpi.allreduceMax(differs);
        List<String> bad = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            if (differs[r] != 0) {
                bad.add(Integer.toString(r));
            }
        }
        throw new Collective(new RuntimeFailure(when + ": the parameters differ across ranks: rank"
                + (bad.size() > 1 ? "s " : " ") + String.join(", ", bad) + " hold other values than rank 0 (hash "
                + String.format("%016x", h) + " on rank " + rank + "); data-parallel training needs every rank to "
                + "compute the same update"));
    }

    /**
     * A 64-bit hash of every parameter's bits, in layout order: four interleaved FNV-1a style lanes (independent
     * multiply chains, so the loop is not bound by one chain's latency), combined at the end.
     */
    static long parameterHash(Session s) {
        long h0 = 0xcbf29ce484222325L;
        long h1 = h0 + 1;
        long h2 = h0 + 2;
        long h3 = h0 + 3;
        final long p = 0x100000001b3L;
        for (Tensor t : s.params().tensors()) {
            float[] a = t.data();
            int i = 0;
            for (; i + 3 < a.length; i += 4) {
                h0 = (h0 ^ Float.floatToRawIntBits(a[i])) * p;
                h1 = (h1 ^ Float.floatToRawIntBits(a[i + 1])) * p;
                h2 = (h2 ^ Float.floatToRawIntBits(a[i + 2])) * p;
                h3 = (h3 ^ Float.floatToRawIntBits(a[i + 3])) * p;
            }
            for (; i < a.length; i++) {
                h0 = (h0 ^ Float.floatToRawIntBits(a[i])) * p;
            }
            h1 = (h1 ^ a.length) * p;
        }
        return ((h0 * 31 + h1) * 31 + h2) * 31 + h3;
    }

    /** Starts the watch on the other ranks' processes (see {@link PeerWatch}); idempotent. */
    public void watchPeers(Supplier<String> lastCheckpoint) {
        if (!distributed() || watch != null) {
            return;
        }
        watch = PeerWatch.start(mpi, rank, size, lastCheckpoint);
    }

    /** For the header: how a rank that dies is noticed (after {@link #watchPeers}); null when not watching. */
    public String watchRule() {
        return watch == null ? null : watch.describe();
    }

    /** A failure on this rank only: print it and abort the whole job with its exit code (does not return). */
    public void abort(int code) {
        mpi.abort(code);
    }

    /** Ends MPI (MPI_Finalize, collective) before this rank exits with {@code code}. */
    public void finish(int code) {
        if (watch != null) {
            watch.stop(code);
        }
        close();
    }

    @Override
    public void close() {
        if (watch != null) {
            watch.stop(0);
        }
        if (mpi != null) {
            mpi.close();
        }
        if (arena != null) {
            arena.close();
            arena = null;
        }
        if (buckets != null) {
            buckets.close();
            buckets = null;
        }
    }

    /** For the header: {@code 2 processes (Open MPI v4.1.4, ...)}. */
    public String describe() {
        return size + " process" + (size == 1 ? "" : "es") + " (" + version() + ")";
    }

    public static Map<String, String> checkpointMetadata(DataParallel dp, int batch) {
        return Map.of("processes", Integer.toString(dp.size()), "global_batch", Integer.toString(batch * dp.size()));
    }
}
