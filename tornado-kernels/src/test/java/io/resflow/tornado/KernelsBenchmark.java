package io.resflow.tornado;

import io.resflow.reference.Attention;
import io.resflow.reference.CrossEntropy;
import io.resflow.reference.LayerNorm;
import io.resflow.reference.Matmul;
import io.resflow.reference.RmsNorm;
import io.resflow.tornado.kernels.Args;
import io.resflow.tornado.kernels.AttentionKernels;
import io.resflow.tornado.kernels.Consts;
import io.resflow.tornado.kernels.CrossEntropyKernels;
import io.resflow.tornado.kernels.LayerNormKernels;
import io.resflow.tornado.kernels.MatmulKernels;
import io.resflow.tornado.kernels.RmsNormKernels;
import io.resflow.tornado.kernels.gpu.FlashAttention;
import io.resflow.tornado.kernels.gpu.LayerNormColumns;
import io.resflow.tornado.kernels.gpu.MatmulTiled;
import io.resflow.tornado.kernels.gpu.RmsNormColumns;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.TornadoProfilerResult;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.ProfilerMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * JMH benchmarks of the tornado backend's kernels, one TornadoVM task graph per op, timed as {@code plan.execute()}.
 * (One file over 600 lines: every op's state shares the harness below, which checks each kernel ran on the device and
 * matches the reference before and after timing.)
 *
 * <p>Each state builds, once per trial, a one-graph plan with the backend's own kernel classes, argument layouts
 * ({@link Args}), launch shapes ({@link LaunchShapes}) and graph builder ({@link GraphSpec}): every array is sent once
 * (FIRST_EXECUTION) and stays on the device, so an execution moves no data (checked: at most 1 KB in per execution,
 * TornadoVM's per-task bookkeeping). Before anything is timed the setup runs the graph with the profiler and fails
 * unless every task has a device kernel time above 0 ({@link DeviceChecks}: a task that fell back to Java, or a launch
 * the driver rejected, reads 0) and every output matches the reference op ({@code io.resflow.reference}) on the same
 * inputs (rel_l2 <= 1e-4 and max_rel <= 1e-3; outputs are pre-filled with NaN, so an output the kernel never wrote
 * fails). The tear-down runs the same checks again after the timed executions.
 *
 * <p>Scores: one JMH operation is 1000 FLOP (matmuls, attention) or 1000 bytes (norms, cross-entropy) and the unit is
 * ops/us, so the score reads directly as GFLOP/s or GB/s (10^9 per second). Microseconds per call = ops per call
 * ({@code @OperationsPerInvocation}) / score. FLOPs: 2 N C OC per matmul product; attention 4 hd per causal (t, s) pair
 * forward (q.k and p.v), 8 hd backward (dp, dq, dk, dv). Bytes: every array each kernel of the op reads or writes, once
 * (the compulsory traffic; re-reads of a row inside a kernel are not counted).
 *
 * <p>Shapes (GPT-2 small): matmul N x C x OC = 256 x 768 x 3072; attention B=4, T=64, 12 heads of 64 (causal, no
 * GQA); LayerNorm / RMSNorm 256 x 768; cross-entropy 256 rows x 50257. Needs a JVM started like the tornado backend's
 * (the jmh profile of this module passes the flags; see README.md).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dtornado.recover.bailout=False"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class KernelsBenchmark {
    static final int N = 256;
    static final int C = 768;
    static final int OC = 3072;
    static final int B = 4;
    static final int T = 64;
    static final int NH = 12;
    static final int NKV = NH;
    static final int HD = 64;
    static final int V = 50257;
    static final float EPS = 1e-5f;

    /** One matmul product, 2 N C OC FLOPs, in kFLOP. */
    static final int MM_KFLOP = (int) (2L * N * C * OC / 1000);
    /** Causal (t, s) pairs of the attention: B nh T (T + 1) / 2. */
    static final long PAIRS = (long) B * NH * T * (T + 1) / 2;
    static final int ATT_FWD_KFLOP = (int) (4L * HD * PAIRS / 1000);
    static final int ATT_BWD_KFLOP = (int) (8L * HD * PAIRS / 1000);
    /** LayerNorm forward: read x, w, b; write y, mean, rstd. */
    static final int LN_FWD_KB = (int) (4L * (2L * N * C + 2L * C + 2L * N) / 1000);
    /** LayerNorm backward: input kernel reads x, dy, w, stats and writes dx; weight kernel reads dy, x, stats and
     *  writes dw, db. */
    static final int LN_BWD_KB = (int) (4L * (5L * N * C + C + 2L * C + 2L * 2 * N) / 1000);
    /** RMSNorm forward: read x, w; write y, rstd. */
    static final int RMS_FWD_KB = (int) (4L * (2L * N * C + C + N) / 1000);
    /** RMSNorm backward: reads x, dy, w, rstd and writes dx; reads dy, x, rstd and writes dw. */
    static final int RMS_BWD_KB = (int) (4L * (5L * N * C + 2L * C + 2L * N) / 1000);
    /** Cross-entropy forward + mean + backward: read logits, write probs and losses; read losses; read probs and
     *  targets, write dlogits. */
    static final int CE_KB = (int) (4L * (4L * N * V + 3L * N + N) / 1000);

    static final double REL_L2 = 1e-4;
    static final double MAX_REL = 1e-3;

    // ------------------------------------------------------------------------------------------------ benchmarks

    /** out = inp W^T + b (MatmulKernels.forward). */
    @Benchmark
    @OperationsPerInvocation(MM_KFLOP)
    public TornadoExecutionResult matmulForward(MatmulForward s) {
        return s.plan.execute();
    }

    /** dinp = dout W, from W^T prepared as the kernel takes it (MatmulKernels.backwardInput). */
    @Benchmark
    @OperationsPerInvocation(MM_KFLOP)
    public TornadoExecutionResult matmulBackwardInput(MatmulBackwardInput s) {
        return s.plan.execute();
    }

    /** dW = dout^T inp, from dout^T and inp^T prepared as the kernel takes them (MatmulKernels.backwardWeight). */
    @Benchmark
    @OperationsPerInvocation(MM_KFLOP)
    public TornadoExecutionResult matmulBackwardWeight(MatmulBackwardWeight s) {
        return s.plan.execute();
    }

    /** out = inp W^T + b with the GPU shapes (MatmulTiled.product: local-memory tiles, no transposes). */
    @Benchmark
    @OperationsPerInvocation(MM_KFLOP)
    public TornadoExecutionResult matmulTiledForward(MatmulTiledForward s) {
        return s.plan.execute();
    }

    /** dinp = dout W with the GPU shapes (MatmulTiled.product reading W along its rows). */
    @Benchmark
    @OperationsPerInvocation(MM_KFLOP)
    public TornadoExecutionResult matmulTiledBackwardInput(MatmulTiledBackwardInput s) {
        return s.plan.execute();
    }

    /** dW = dout^T inp with the GPU shapes (MatmulTiled.weightGradient). */
    @Benchmark
    @OperationsPerInvocation(MM_KFLOP)
    public TornadoExecutionResult matmulTiledBackwardWeight(MatmulTiledBackwardWeight s) {
        return s.plan.execute();
    }

    /** The whole linear backward as a session runs it: 3 transposes, dinp, dW, db (2 products: 4 N C OC FLOPs). */
    @Benchmark
    @OperationsPerInvocation(2 * MM_KFLOP)
    public TornadoExecutionResult matmulBackwardAll(MatmulBackwardAll s) {
        return s.plan.execute();
    }

    @Benchmark
    @OperationsPerInvocation(ATT_FWD_KFLOP)
    public TornadoExecutionResult attentionForward(AttentionForward s) {
        return s.plan.execute();
    }

    /** backwardQuery + backwardKeyValue. */
    @Benchmark
    @OperationsPerInvocation(ATT_BWD_KFLOP)
    public TornadoExecutionResult attentionBackward(AttentionBackward s) {
        return s.plan.execute();
    }

    /** The GPU shapes: FlashAttention.forward (key blocks of 16 through local memory, only the log-sum-exp kept). */
    @Benchmark
    @OperationsPerInvocation(ATT_FWD_KFLOP)
    public TornadoExecutionResult flashAttentionForward(FlashAttentionForward s) {
        return s.plan.execute();
    }

    /** The GPU shapes: FlashAttention.backwardDelta + backwardQuery + backwardKeyValue (probabilities recomputed). */
    @Benchmark
    @OperationsPerInvocation(ATT_BWD_KFLOP)
    public TornadoExecutionResult flashAttentionBackward(FlashAttentionBackward s) {
        return s.plan.execute();
    }

    @Benchmark
    @OperationsPerInvocation(LN_FWD_KB)
    public TornadoExecutionResult layerNormForward(LayerNormForward s) {
        return s.plan.execute();
    }

    /** backwardInput + backwardParams. */
    @Benchmark
    @OperationsPerInvocation(LN_BWD_KB)
    public TornadoExecutionResult layerNormBackward(LayerNormBackward s) {
        return s.plan.execute();
    }

    /** backwardInput + the GPU shapes' LayerNormColumns.backwardParams (columns reduced in local memory). */
    @Benchmark
    @OperationsPerInvocation(LN_BWD_KB)
    public TornadoExecutionResult layerNormBackwardColumns(LayerNormBackwardColumns s) {
        return s.plan.execute();
    }

    @Benchmark
    @OperationsPerInvocation(RMS_FWD_KB)
    public TornadoExecutionResult rmsNormForward(RmsNormForward s) {
        return s.plan.execute();
    }

    /** backwardInput + backwardParams. */
    @Benchmark
    @OperationsPerInvocation(RMS_BWD_KB)
    public TornadoExecutionResult rmsNormBackward(RmsNormBackward s) {
        return s.plan.execute();
    }

    /** backwardInput + the GPU shapes' RmsNormColumns.backwardParams. */
    @Benchmark
    @OperationsPerInvocation(RMS_BWD_KB)
    public TornadoExecutionResult rmsNormBackwardColumns(RmsNormBackwardColumns s) {
        return s.plan.execute();
    }

    /** Softmax + per-row loss, mean loss, dlogits (the head graph's loss tasks and head_bwd's first). */
    @Benchmark
    @OperationsPerInvocation(CE_KB)
    public TornadoExecutionResult crossEntropy(CrossEntropyForwardBackward s) {
        return s.plan.execute();
    }

    // ------------------------------------------------------------------------------------------------ harness

    /** A reference output and where the kernel's copy of it lives. */
    record Expect(String name, FloatArray array, int offset, float[] ref) {
    }

    /**
     * One op as a one-graph plan: the graph is described with {@link GraphSpec} (every array it touches is its own,
     * sent FIRST_EXECUTION; the arrays holding outputs are kept on the device and copied back only on demand).
     */
    @State(Scope.Benchmark)
    public abstract static class KernelState {
        /** TornadoVM device: "default" or driver:device, e.g. 0:0. */
        @Param({"default"})
        public String device;

        TornadoExecutionPlan plan;
        TornadoDevice dev;
        LaunchShapes shapes;
        GraphSpec spec;
        DeviceChecks checks;
        /** Layer index 0 for the kernels that take one; also the graph's anchor. */
        final IntArray layer = Args.of(0);
        final List<Expect> expects = new ArrayList<>();
        Object[] outputs;

        /** Ops (kFLOP or kB) per execution, for the setup's device-only figure. */
        abstract int opsPerCall();

        abstract String unit();

        /** Fills the host arrays, computes the reference outputs and describes the graph in {@link #spec}. */
        abstract void prepare();

        @Setup(Level.Trial)
        public void setup() {
            dev = resolveDevice(device);
            shapes = new LaunchShapes(dev);
            checks = new DeviceChecks(dev.getDeviceName());
            prepare();
            if (outputs == null || expects.isEmpty()) {
                throw new IllegalStateException(getClass().getSimpleName() + ": no outputs to check");
            }
            spec.onDemand(outputs);
            GridScheduler grid = new GridScheduler();
            spec.grids().forEach(grid::addWorkerGrid);
            plan = new TornadoExecutionPlan(spec.build(Set.of(), List.of(spec), false).snapshot());
            plan.withDevice(dev).withGridScheduler(grid).withProfiler(ProfilerMode.SILENT);
            // first execution: compiles and uploads; then a steady-state one, which must move (almost) nothing
            checkedRun("first");
            long[] prof = checkedRun("second");
            String report = verify("setup");
            System.out.printf(Locale.ROOT, "%n[kernels] %s on %s: %d task(s) ran on the device, %d B in / %d B out "
                    + "per execution; device kernel time %.1f us (%.2f %s device-only); outputs match the "
                    + "reference: %s%n", spec.name, dev.getPhysicalDevice().getDeviceName(), spec.taskCount(),
                    prof[1], prof[2], prof[0] / 1e3, opsPerCall() * 1e3 / prof[0], unit(), report);
            plan.withoutProfiler();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            try {
                plan.withProfiler(ProfilerMode.SILENT);
                for (Expect e : expects) {
                    fill(e.array(), e.offset(), e.ref().length, Float.NaN);
                }
                // host copies only (nothing is re-sent): the values compared below are the ones copied back from
                // the device after one more execution
                checkedRun("after timing");
                System.out.printf(Locale.ROOT, "%n[kernels] %s checked again after timing: %s%n", spec.name,
                        verify("tear-down"));
            } finally {
                plan.close();
            }
        }

        /**
         * One execution with the checks; returns {device kernel ns, bytes in, bytes out}, read before the outputs are
         * copied back (the copy starts a new profile).
         */
        private long[] checkedRun(String when) {
            TornadoExecutionResult r = plan.execute();
            TornadoProfilerResult prof = r.getProfilerResult();
            Map<String, Long> times = checks.requireRan(spec.name, prof, true);
            if (times.size() != spec.taskCount()) {
                throw new IllegalStateException(spec.name + " (" + when + "): " + times.size() + " task times for "
                        + spec.taskCount() + " tasks: " + times);
            }
            long[] out = {prof.getDeviceKernelTime(), prof.getTotalBytesCopyIn(), prof.getTotalBytesCopyOut()};
            if (!when.equals("first") && out[1] > 1024) {
                throw new IllegalStateException(spec.name + " (" + when + "): " + out[1]
                        + " bytes copied in per execution; the data should stay on the device");
            }
            r.transferToHost(outputs);
            return out;
        }

        private String verify(String when) {
            StringBuilder sb = new StringBuilder();
            for (Expect e : expects) {
                double[] err = compare(e.array(), e.offset(), e.ref());
                if (!(err[0] <= REL_L2 && err[1] <= MAX_REL)) {
                    throw new IllegalStateException(String.format(Locale.ROOT,
                            "%s (%s): output '%s' does not match the reference: rel_l2 %.3g (max %.0g), max_rel %.3g "
                                    + "(max %.0g)", spec.name, when, e.name(), err[0], REL_L2, err[1], MAX_REL));
                }
                sb.append(String.format(Locale.ROOT, "%s rel_l2 %.1e; ", e.name(), err[0]));
            }
            return sb.substring(0, sb.length() - 2);
        }

        /** Puts {@code src} into {@code dst} at {@code off}. */
        static void put(FloatArray dst, int off, float[] src) {
            for (int i = 0; i < src.length; i++) {
                dst.set(off + i, src[i]);
            }
        }

        void expect(String name, FloatArray array, int offset, float[] ref) {
            fill(array, offset, ref.length, Float.NaN);
            expects.add(new Expect(name, array, offset, ref));
        }

        /**
         * The launch shapes DeviceOps uses when the GPU shapes are chosen (forced here on any device, as
         * {@code -Dresflow.tornado.shapes=gpu} does), for heads of {@link #HD}.
         */
        LaunchShapes gpu() {
            return new LaunchShapes(dev, dev.getPhysicalDevice().getDeviceLocalMemorySize(), "gpu", HD);
        }
    }

    static TornadoDevice resolveDevice(String spec) {
        TornadoDevice d;
        try {
            if (spec == null || spec.isBlank() || spec.equals("default")) {
                d = TornadoExecutionPlan.DEFAULT_DEVICE;
                if (d == null) {
                    d = TornadoExecutionPlan.getTornadoDeviceMap().getAllBackends().getFirst().getDefaultDevice();
                }
            } else {
                String[] p = spec.split(":");
                d = TornadoExecutionPlan.getDevice(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()));
            }
        } catch (LinkageError | RuntimeException e) {
            throw new IllegalStateException("TornadoVM is not available in the benchmark JVM or has no device '" + spec
                    + "' (fork it with @$TORNADOVM_HOME/tornado-argfile; see README.md): " + e, e);
        }
        if (!"False".equalsIgnoreCase(System.getProperty("tornado.recover.bailout"))) {
            throw new IllegalStateException("run with -Dtornado.recover.bailout=False (a kernel TornadoVM cannot "
                    + "compile must fail, not run as Java)");
        }
        return d;
    }

    static float[] rand(int n, long seed, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (lo + (hi - lo) * r.nextDouble());
        }
        return a;
    }

    static void fill(FloatArray a, int off, int n, float v) {
        for (int i = 0; i < n; i++) {
            a.set(off + i, v);
        }
    }

    /** {rel_l2, max_rel} of the device copy against the reference; NaN (never <= anything) if any value is not
     *  finite. */
    static double[] compare(FloatArray a, int off, float[] ref) {
        double d2 = 0;
        double r2 = 0;
        double dMax = 0;
        double rMax = 0;
        for (int i = 0; i < ref.length; i++) {
            float x = a.get(off + i);
            if (!Float.isFinite(x)) {
                return new double[] {Double.NaN, Double.NaN};
            }
            double d = (double) x - ref[i];
            d2 += d * d;
            r2 += (double) ref[i] * ref[i];
            dMax = Math.max(dMax, Math.abs(d));
            rMax = Math.max(rMax, Math.abs(ref[i]));
        }
        return new double[] {r2 == 0 ? Math.sqrt(d2) : Math.sqrt(d2 / r2), rMax == 0 ? dMax : dMax / rMax};
    }

    static FloatArray consts() {
        FloatArray k = new FloatArray(Consts.ROPE + 1);
        k.set(Consts.NORM_EPS, EPS);
        k.set(Consts.SKIP_ALPHA, 1f);
        k.set(Consts.ATTN_SCALE, (float) (1.0 / Math.sqrt(HD)));
        k.set(Consts.INV_N, 1f / N);
        return k;
    }

    // ------------------------------------------------------------------------------------------------ matmuls

    /** Matmul operands of one N x C -> OC layer; {@code shape} must keep the FLOP count of 256x768x3072. */
    public abstract static class MatmulState extends KernelState {
        /** N x C x OC (any shape with 2 N C OC = 2 * 256 * 768 * 3072, e.g. 256x3072x768). */
        @Param({"256x768x3072"})
        public String shape;

        int n;
        int c;
        int oc;
        float[] inp;
        float[] w;
        float[] b;
        float[] dout;

        @Override
        int opsPerCall() {
            return MM_KFLOP;
        }

        @Override
        String unit() {
            return "GFLOP/s";
        }

        void operands() {
            String[] p = shape.split("x");
            n = Integer.parseInt(p[0]);
            c = Integer.parseInt(p[1]);
            oc = Integer.parseInt(p[2]);
            if ((long) n * c * oc != (long) N * C * OC) {
                throw new IllegalArgumentException("shape " + shape + " does not do 2*256*768*3072 FLOPs");
            }
            inp = rand(n * c, 1, -1, 1);
            w = rand(oc * c, 2, -0.1, 0.1);
            b = rand(oc, 3, -0.1, 0.1);
            dout = rand(n * oc, 4, -1, 1);
        }

        static float[] transpose(float[] a, int rows, int cols) {
            float[] t = new float[a.length];
            for (int r = 0; r < rows; r++) {
                for (int k = 0; k < cols; k++) {
                    t[k * rows + r] = a[r * cols + k];
                }
            }
            return t;
        }
    }

    public static class MatmulForward extends MatmulState {
        @Override
        void prepare() {
            operands();
            // act: inp (n,c) | out (n,oc); p: W (oc,c) | b (oc)
            FloatArray act = new FloatArray(n * c + n * oc);
            FloatArray p = new FloatArray(oc * c + oc);
            put(act, 0, inp);
            put(p, 0, w);
            put(p, oc * c, b);
            float[] ref = new float[n * oc];
            Matmul.forward(ref, inp, w, b, n, c, oc);
            expect("out", act, n * c, ref);
            outputs = new Object[] {act};
            spec = new GraphSpec("matmul_fwd", layer).task("forward",
                    shapes.tiles(oc, n, MatmulKernels.TILE, MatmulKernels.TILE), MatmulKernels::forward, act, p, layer,
                    Args.of(n * c, 0, 0, oc * c, 0, 0, n, c, oc));
        }
    }

    public static class MatmulBackwardInput extends MatmulState {
        @Override
        void prepare() {
            operands();
            // dact: dout (n,oc) | W^T (c,oc) | dinp (n,c)
            FloatArray dact = new FloatArray(n * oc + c * oc + n * c);
            put(dact, 0, dout);
            put(dact, n * oc, transpose(w, oc, c));
            float[] ref = new float[n * c];
            Matmul.backward(ref, null, null, dout, inp, w, n, c, oc);
            int din = n * oc + c * oc;
            expect("dinp", dact, din, ref);
            outputs = new Object[] {dact};
            spec = new GraphSpec("matmul_bwd_in", layer).task("backward_input",
                    shapes.tiles(c, n, MatmulKernels.TILE, MatmulKernels.TILE), MatmulKernels::backwardInput, dact,
                    Args.of(din, 0, n * oc, n, c, oc, 0));
        }
    }

    public static class MatmulBackwardWeight extends MatmulState {
        @Override
        void prepare() {
            operands();
            // dact: dout^T (oc,n) | inp^T (c,n); g: dW (oc,c)
            FloatArray dact = new FloatArray(oc * n + c * n);
            FloatArray g = new FloatArray(oc * c);
            put(dact, 0, transpose(dout, n, oc));
            put(dact, oc * n, transpose(inp, n, c));
            float[] ref = new float[oc * c];
            Matmul.backward(null, ref, null, dout, inp, w, n, c, oc);
            expect("dW", g, 0, ref);
            outputs = new Object[] {g};
            spec = new GraphSpec("matmul_bwd_w", layer).task("backward_weight",
                    shapes.tiles(c, oc, MatmulKernels.TILE, MatmulKernels.TILE), MatmulKernels::backwardWeight, g,
                    dact, layer, Args.of(0, 0, oc * n, 0, n, c, oc));
        }
    }

    /**
     * The GPU-shaped matmuls ({@code kernels.gpu.MatmulTiled}) with the arguments and launch shapes DeviceOps gives
     * them when the GPU shapes are chosen (forced here on any device, as {@code -Dresflow.tornado.shapes=gpu} does).
     */
    abstract static class MatmulTiledState extends MatmulState {
        @Override
        LaunchShapes gpu() {
            LaunchShapes g = super.gpu();
            if (!g.tiledMatmul()) {
                throw new IllegalStateException("the device's local memory is too small for the tiled matmul");
            }
            return g;
        }

        // MatmulTiled's arguments: C, A, B offsets and layer strides, bias, rows, cols, depth, A and B element strides
        static IntArray tiled(int cOff, int aOff, int bOff, int bias, int rows, int cols, int depth, int sai, int sak,
                int sbk, int sbj) {
            return Args.of(cOff, 0, aOff, 0, bOff, 0, bias, rows, cols, depth, sai, sak, sbk, sbj, 0);
        }
    }

    public static class MatmulTiledForward extends MatmulTiledState {
        @Override
        void prepare() {
            operands();
            // act: inp (n,c) | out (n,oc); p: W (oc,c) | b (oc); C = out, A(i,k) = inp[i][k], B(k,j) = W[j][k]
            FloatArray act = new FloatArray(n * c + n * oc);
            FloatArray p = new FloatArray(oc * c + oc);
            put(act, 0, inp);
            put(p, 0, w);
            put(p, oc * c, b);
            float[] ref = new float[n * oc];
            Matmul.forward(ref, inp, w, b, n, c, oc);
            expect("out", act, n * c, ref);
            outputs = new Object[] {act};
            spec = new GraphSpec("matmul_tiled_fwd", layer).task("forward", gpu().matmulTiles(n, oc),
                    MatmulTiled::product, act, p, layer, tiled(n * c, 0, 0, oc * c, n, oc, c, c, 1, 1, c));
        }
    }

    public static class MatmulTiledBackwardInput extends MatmulTiledState {
        @Override
        void prepare() {
            operands();
            // dact: dout (n,oc) | dinp (n,c); p: W (oc,c); C = dinp, A(i,k) = dout[i][k], B(k,j) = W[k][j]
            FloatArray dact = new FloatArray(n * oc + n * c);
            FloatArray p = new FloatArray(oc * c);
            put(dact, 0, dout);
            put(p, 0, w);
            float[] ref = new float[n * c];
            Matmul.backward(ref, null, null, dout, inp, w, n, c, oc);
            expect("dinp", dact, n * oc, ref);
            outputs = new Object[] {dact};
            spec = new GraphSpec("matmul_tiled_bwd_in", layer).task("backward_input", gpu().matmulTiles(n, c),
                    MatmulTiled::product, dact, p, layer, tiled(n * oc, 0, 0, -1, n, c, oc, oc, 1, c, 1));
        }
    }

    public static class MatmulTiledBackwardWeight extends MatmulTiledState {
        @Override
        void prepare() {
            operands();
            // g: dW (oc,c); dact: dout (n,oc); act: inp (n,c); C = dW, A(i,k) = dout[k][i], B(k,j) = inp[k][j]
            FloatArray g = new FloatArray(oc * c);
            FloatArray dact = new FloatArray(n * oc);
            FloatArray act = new FloatArray(n * c);
            put(dact, 0, dout);
            put(act, 0, inp);
            float[] ref = new float[oc * c];
            Matmul.backward(null, ref, null, dout, inp, w, n, c, oc);
            expect("dW", g, 0, ref);
            outputs = new Object[] {g};
            spec = new GraphSpec("matmul_tiled_bwd_w", layer).task("backward_weight", gpu().matmulTiles(oc, c),
                    MatmulTiled::weightGradient, g, dact, act, layer, tiled(0, 0, 0, -1, oc, c, n, 1, oc, c, 1));
        }
    }

    /** The tasks of DeviceOps.matmulBackward, in its order and with its launch shapes. */
    public static class MatmulBackwardAll extends MatmulState {
        @Override
        int opsPerCall() {
            return 2 * MM_KFLOP;
        }

        @Override
        void prepare() {
            operands();
            // act: inp (n,c); p: W (oc,c) | b (oc); g like p;
            // dact: dout (n,oc) | W^T (c,oc) | dout^T (oc,n) | inp^T (c,n) | dinp (n,c)
            FloatArray act = new FloatArray(n * c);
            FloatArray p = new FloatArray(oc * c + oc);
            FloatArray g = new FloatArray(oc * c + oc);
            int tW = n * oc;
            int tDout = tW + c * oc;
            int tX = tDout + oc * n;
            int din = tX + c * n;
            FloatArray dact = new FloatArray(din + n * c);
            put(act, 0, inp);
            put(p, 0, w);
            put(p, oc * c, b);
            put(dact, 0, dout);
            float[] dinp = new float[n * c];
            float[] dw = new float[oc * c];
            float[] db = new float[oc];
            Matmul.backward(dinp, dw, db, dout, inp, w, n, c, oc);
            expect("dinp", dact, din, dinp);
            expect("dW", g, 0, dw);
            expect("db", g, oc * c, db);
            outputs = new Object[] {dact, g};
            int bl = MatmulKernels.BLOCK;
            int tile = MatmulKernels.TILE;
            spec = new GraphSpec("matmul_bwd", layer)
                    .task("wt", shapes.tiles(c, oc, bl, bl), MatmulKernels::transposeWeight, dact, p, layer,
                            Args.of(tW, 0, 0, oc, c))
                    .task("in", shapes.tiles(c, n, tile, tile), MatmulKernels::backwardInput, dact,
                            Args.of(din, 0, tW, n, c, oc, 0))
                    .task("dt", shapes.tiles(oc, n, bl, bl), MatmulKernels::transposeScratch, dact,
                            Args.of(tDout, 0, 0, n, oc))
                    .task("xt", shapes.tiles(c, n, bl, bl), MatmulKernels::transposeActivation, dact, act, layer,
                            Args.of(tX, 0, 0, n, c))
                    .task("w", shapes.tiles(c, oc, tile, tile), MatmulKernels::backwardWeight, g, dact, layer,
                            Args.of(0, tDout, tX, 0, n, c, oc))
                    .task("b", shapes.elements(oc), MatmulKernels::backwardBias, g, dact, layer,
                            Args.of(oc * c, 0, 0, n, oc));
        }
    }

    // ------------------------------------------------------------------------------------------------ attention

    public abstract static class AttentionState extends KernelState {
        static final int WIDTH = (NH + 2 * NKV) * HD;
        float[] qkv = rand(B * T * WIDTH, 5, -1, 1);
        float[] probs = new float[B * NH * T * T];
        float[] att = new float[B * T * NH * HD];

        @Override
        String unit() {
            return "GFLOP/s";
        }

        IntArray args(int out, int probsOff, int qkvOff, int ds, int dqkv) {
            return Args.of(out, probsOff, qkvOff, 0, B, T, NH, NKV, HD, ds, dqkv);
        }
    }

    public static class AttentionForward extends AttentionState {
        @Override
        int opsPerCall() {
            return ATT_FWD_KFLOP;
        }

        @Override
        void prepare() {
            // act: qkv | att | probs
            int attOff = qkv.length;
            int probsOff = attOff + att.length;
            FloatArray act = new FloatArray(probsOff + probs.length);
            put(act, 0, qkv);
            Attention.forward(att, probs, qkv, B, T, NH, NKV, HD);
            expect("out", act, attOff, att);
            expect("probs", act, probsOff, probs);
            outputs = new Object[] {act};
            spec = new GraphSpec("attention_fwd", layer).task("forward", shapes.elements((long) B * NH * T),
                    AttentionKernels::forward, act, consts(), layer, args(attOff, probsOff, 0, -1, -1));
        }
    }

    public static class AttentionBackward extends AttentionState {
        @Override
        int opsPerCall() {
            return ATT_BWD_KFLOP;
        }

        @Override
        void prepare() {
            Attention.forward(att, probs, qkv, B, T, NH, NKV, HD);
            float[] dAtt = rand(att.length, 6, -1, 1);
            float[] dqkv = new float[qkv.length];
            Attention.backward(dqkv, dAtt, qkv, probs, B, T, NH, NKV, HD);
            // act: qkv | probs; dact: dAtt | dS scratch | dqkv
            FloatArray act = new FloatArray(qkv.length + probs.length);
            put(act, 0, qkv);
            put(act, qkv.length, probs);
            int dS = dAtt.length;
            int dq = dS + probs.length;
            FloatArray dact = new FloatArray(dq + dqkv.length);
            put(dact, 0, dAtt);
            expect("dqkv", dact, dq, dqkv);
            outputs = new Object[] {dact};
            IntArray m = args(0, qkv.length, 0, dS, dq);
            spec = new GraphSpec("attention_bwd", layer)
                    .task("query", shapes.elements((long) B * NH * T), AttentionKernels::backwardQuery, dact, act,
                            consts(), layer, m)
                    .task("key_value", shapes.elements((long) B * NKV * T * HD), AttentionKernels::backwardKeyValue,
                            dact, act, layer, m);
        }
    }

    /**
     * Flash attention (the GPU shapes) with DeviceOps' arguments and groups: act holds qkv | out | lse (B, nh, T), dact
     * dout | D (B, nh, T) | dqkv.
     */
    abstract static class FlashState extends AttentionState {
        final float[] lse = new float[B * NH * T];
        LaunchShapes flash;

        void flashShapes() {
            flash = gpu();
            if (flash.flashRows <= 0) {
                throw new IllegalStateException("the device cannot run flash attention at head size " + HD);
            }
        }

        WorkerGrid groups(int heads) {
            return flash.flash((long) B * heads * ((T + flash.flashRows - 1) / flash.flashRows));
        }

        static IntArray flashArgs(int out, int lse, int qkv, int dout, int delta, int dqkv) {
            return Args.of(out, lse, qkv, 0, B, T, NH, NKV, HD, dout, delta, dqkv);
        }
    }

    public static class FlashAttentionForward extends FlashState {
        @Override
        int opsPerCall() {
            return ATT_FWD_KFLOP;
        }

        @Override
        void prepare() {
            flashShapes();
            int attOff = qkv.length;
            int lseOff = attOff + att.length;
            FloatArray act = new FloatArray(lseOff + lse.length);
            put(act, 0, qkv);
            IntArray m = flashArgs(attOff, lseOff, 0, -1, -1, -1);
            // the log-sum-exp from the kernel's plain-Java meaning, the output from the reference op
            FloatArray plain = new FloatArray(act.getSize());
            put(plain, 0, qkv);
            FlashAttention.Plain.forward(plain, consts(), layer, m);
            for (int i = 0; i < lse.length; i++) {
                lse[i] = plain.get(lseOff + i);
            }
            Attention.forward(att, probs, qkv, B, T, NH, NKV, HD);
            expect("out", act, attOff, att);
            expect("lse", act, lseOff, lse);
            outputs = new Object[] {act};
            spec = new GraphSpec("flash_attention_fwd", layer).task("forward", groups(NH), FlashAttention::forward,
                    act, consts(), layer, m, HD);
        }
    }

    public static class FlashAttentionBackward extends FlashState {
        @Override
        int opsPerCall() {
            return ATT_BWD_KFLOP;
        }

        @Override
        void prepare() {
            flashShapes();
            int attOff = qkv.length;
            int lseOff = attOff + att.length;
            FloatArray act = new FloatArray(lseOff + lse.length);
            put(act, 0, qkv);
            IntArray fm = flashArgs(attOff, lseOff, 0, -1, -1, -1);
            FlashAttention.Plain.forward(act, consts(), layer, fm); // out and lse as the forward leaves them
            Attention.forward(att, probs, qkv, B, T, NH, NKV, HD);
            float[] dAtt = rand(att.length, 6, -1, 1);
            float[] dqkv = new float[qkv.length];
            Attention.backward(dqkv, dAtt, qkv, probs, B, T, NH, NKV, HD);
            int delta = dAtt.length;
            int dq = delta + lse.length;
            FloatArray dact = new FloatArray(dq + dqkv.length);
            put(dact, 0, dAtt);
            expect("dqkv", dact, dq, dqkv);
            outputs = new Object[] {dact};
            IntArray m = flashArgs(attOff, lseOff, 0, 0, delta, dq);
            spec = new GraphSpec("flash_attention_bwd", layer)
                    .task("delta", flash.elements((long) B * NH * T), FlashAttention::backwardDelta, dact, act, layer,
                            m)
                    .task("query", groups(NH), FlashAttention::backwardQuery, dact, act, consts(), layer, m, HD)
                    .task("key_value", groups(NKV), FlashAttention::backwardKeyValue, dact, act, consts(), layer, m,
                            HD);
        }
    }

    // ------------------------------------------------------------------------------------------------ norms

    public abstract static class NormState extends KernelState {
        float[] x = rand(N * C, 7, -1.5, 2.5);
        float[] w = rand(C, 8, 0.5, 1.5);
        float[] b = rand(C, 9, -0.5, 0.5);
        float[] dy = rand(N * C, 10, -1, 1);

        @Override
        String unit() {
            return "GB/s";
        }
    }

    public static class LayerNormForward extends NormState {
        @Override
        int opsPerCall() {
            return LN_FWD_KB;
        }

        @Override
        void prepare() {
            // act: x | y | mean (N), rstd (N); p: w | b
            FloatArray act = new FloatArray(2 * N * C + 2 * N);
            FloatArray p = new FloatArray(2 * C);
            put(act, 0, x);
            put(p, 0, w);
            put(p, C, b);
            float[] y = new float[N * C];
            float[] mean = new float[N];
            float[] rstd = new float[N];
            LayerNorm.forward(y, mean, rstd, x, w, b, N, C, EPS);
            expect("y", act, N * C, y);
            expect("mean", act, 2 * N * C, mean);
            expect("rstd", act, 2 * N * C + N, rstd);
            outputs = new Object[] {act};
            spec = new GraphSpec("layernorm_fwd", layer).task("forward", shapes.rows(N), LayerNormKernels::forward,
                    act, p, consts(), layer, Args.of(N * C, 2 * N * C, 0, 0, C, 0, 0, N, C));
        }
    }

    public static class LayerNormBackward extends NormState {
        @Override
        int opsPerCall() {
            return LN_BWD_KB;
        }

        @Override
        void prepare() {
            float[] y = new float[N * C];
            float[] mean = new float[N];
            float[] rstd = new float[N];
            LayerNorm.forward(y, mean, rstd, x, w, b, N, C, EPS);
            float[] dx = new float[N * C];
            float[] dw = new float[C];
            float[] db = new float[C];
            LayerNorm.backward(dx, dw, db, dy, x, w, mean, rstd, N, C);
            // act: x | mean, rstd; p: w | b; dact: dy | dx; g: dw | db
            FloatArray act = new FloatArray(N * C + 2 * N);
            FloatArray p = new FloatArray(2 * C);
            FloatArray dact = new FloatArray(2 * N * C);
            FloatArray g = new FloatArray(2 * C);
            put(act, 0, x);
            put(act, N * C, mean);
            put(act, N * C + N, rstd);
            put(p, 0, w);
            put(p, C, b);
            put(dact, 0, dy);
            expect("dx", dact, N * C, dx);
            expect("dw", g, 0, dw);
            expect("db", g, C, db);
            outputs = new Object[] {dact, g};
            IntArray mp = Args.of(0, C, 0, 0, N * C, 0, 0, N, C);
            String name = columns() ? "layernorm_bwd_columns" : "layernorm_bwd";
            spec = new GraphSpec(name, layer).task("input", shapes.rows(N), LayerNormKernels::backwardInput, dact, act,
                    p, layer, Args.of(N * C, 0, 0, N * C, 0, 0, 0, N, C, 0));
            if (columns()) {
                spec.task("params", gpu().columns(C), LayerNormColumns::backwardParams, g, dact, act, layer, mp);
            } else {
                spec.task("params", shapes.elements(C), LayerNormKernels::backwardParams, g, dact, act, layer, mp);
            }
        }

        /** Whether the parameter gradients run as the GPU shapes' column reductions (else a work-item per channel). */
        boolean columns() {
            return false;
        }
    }

    /** The same with the GPU shapes' parameter gradients: column reductions in local memory (DeviceOps' groups). */
    public static class LayerNormBackwardColumns extends LayerNormBackward {
        @Override
        boolean columns() {
            return true;
        }
    }

    public static class RmsNormForward extends NormState {
        @Override
        int opsPerCall() {
            return RMS_FWD_KB;
        }

        @Override
        void prepare() {
            // act: x | y | unused (N), rstd (N); p: w
            FloatArray act = new FloatArray(2 * N * C + 2 * N);
            FloatArray p = new FloatArray(C);
            put(act, 0, x);
            put(p, 0, w);
            float[] y = new float[N * C];
            float[] rstd = new float[N];
            RmsNorm.forward(y, rstd, x, w, N, C, EPS);
            expect("y", act, N * C, y);
            expect("rstd", act, 2 * N * C + N, rstd);
            outputs = new Object[] {act};
            spec = new GraphSpec("rmsnorm_fwd", layer).task("forward", shapes.rows(N), RmsNormKernels::forward, act,
                    p, consts(), layer, Args.of(N * C, 2 * N * C, 0, 0, -1, 0, 0, N, C));
        }
    }

    public static class RmsNormBackward extends NormState {
        @Override
        int opsPerCall() {
            return RMS_BWD_KB;
        }

        @Override
        void prepare() {
            float[] y = new float[N * C];
            float[] rstd = new float[N];
            RmsNorm.forward(y, rstd, x, w, N, C, EPS);
            float[] dx = new float[N * C];
            float[] dw = new float[C];
            RmsNorm.backward(dx, dw, dy, x, w, rstd, N, C);
            // act: x | unused (N), rstd (N); p: w; dact: dy | dx; g: dw
            FloatArray act = new FloatArray(N * C + 2 * N);
            FloatArray p = new FloatArray(C);
            FloatArray dact = new FloatArray(2 * N * C);
            FloatArray g = new FloatArray(C);
            put(act, 0, x);
            put(act, N * C + N, rstd);
            put(p, 0, w);
            put(dact, 0, dy);
            expect("dx", dact, N * C, dx);
            expect("dw", g, 0, dw);
            outputs = new Object[] {dact, g};
            IntArray mp = Args.of(0, -1, 0, 0, N * C, 0, 0, N, C);
            String name = columns() ? "rmsnorm_bwd_columns" : "rmsnorm_bwd";
            spec = new GraphSpec(name, layer).task("input", shapes.rows(N), RmsNormKernels::backwardInput, dact, act, p,
                    layer, Args.of(N * C, 0, 0, N * C, 0, 0, 0, N, C, 0));
            if (columns()) {
                spec.task("params", gpu().columns(C), RmsNormColumns::backwardParams, g, dact, act, layer, mp);
            } else {
                spec.task("params", shapes.elements(C), RmsNormKernels::backwardParams, g, dact, act, layer, mp);
            }
        }

        /** Whether the weight gradient run as the GPU shapes' column reduction (else one work-item per channel). */
        boolean columns() {
            return false;
        }
    }

    /** The same with the GPU shapes' weight gradient: column reductions in local memory (DeviceOps' groups). */
    public static class RmsNormBackwardColumns extends RmsNormBackward {
        @Override
        boolean columns() {
            return true;
        }
    }

    // ------------------------------------------------------------------------------------------------ cross-entropy

    public static class CrossEntropyForwardBackward extends KernelState {
        @Override
        int opsPerCall() {
            return CE_KB;
        }

        @Override
        String unit() {
            return "GB/s";
        }

        @Override
        void prepare() {
            float[] logits = rand(N * V, 11, -4, 4);
            int[] targets = new int[N];
            SplittableRandom r = new SplittableRandom(12);
            for (int i = 0; i < N; i++) {
                targets[i] = r.nextInt(V);
            }
            float[] probs = new float[N * V];
            float[] losses = new float[N];
            float mean = (float) CrossEntropy.forward(losses, probs, logits, targets, N, V);
            float[] dlogits = new float[N * V];
            CrossEntropy.backward(dlogits, probs, targets, N, V);
            // act: logits | probs | losses; tok: inputs (unused) | targets; dact: dlogits; loss: the mean
            FloatArray act = new FloatArray(2 * N * V + N);
            put(act, 0, logits);
            IntArray tok = new IntArray(2 * N);
            for (int i = 0; i < N; i++) {
                tok.set(N + i, targets[i]);
            }
            FloatArray dact = new FloatArray(N * V);
            FloatArray loss = new FloatArray(1);
            expect("probs", act, N * V, probs);
            expect("losses", act, 2 * N * V, losses);
            expect("mean_loss", loss, 0, new float[] {mean});
            expect("dlogits", dact, 0, dlogits);
            outputs = new Object[] {act, dact, loss};
            IntArray m = Args.of(0, N * V, 2 * N * V, N, V, 0);
            FloatArray k = consts();
            spec = new GraphSpec("cross_entropy", layer)
                    .task("softmax", shapes.rows(N, shapes.reduceLocal), CrossEntropyKernels::forward, act, tok, m)
                    .task("mean", shapes.single(), CrossEntropyKernels::meanLoss, act, loss, k, m)
                    .task("dlogits", shapes.elements((long) N * V), CrossEntropyKernels::backward, dact, act, tok, k,
                            m);
        }
    }
}
