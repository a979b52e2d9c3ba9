package io.resflow.tornado;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.check.Bf16Budget;
import io.resflow.check.CheckReport;
import io.resflow.check.Comparison;
import io.resflow.check.DecodeCheck;
import io.resflow.check.TestVectors;
import io.resflow.check.VectorCheck;
import io.resflow.engine.Decoder;
import io.resflow.engine.Generator;
import io.resflow.engine.Precision;
import io.resflow.engine.Sampling;
import io.resflow.model.ModelConfig;
import io.resflow.reference.ReferenceBackend;
import io.resflow.tornado.kernels.Args;
import io.resflow.tornado.kernels.Bf16Kernels;
import java.nio.file.Path;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoProfilerResult;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.enums.ProfilerMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

/**
 * The tornado backend in bf16 ({@link Precision#BF16}) on the default device in strict mode, as the jvm backend's
 * Bf16Test holds the jvm backend: the device's rounding and 16-bit weight copy bit for bit the reference's, every
 * test-vector folder against the bf16 reference (forward at eps 1e-3, gradients and updates at half the bf16
 * backward budget, {@link #gradEps}) and against the folder's fp32 values at the {@link Bf16Budget}, and the bf16
 * decoder against the bf16 full forward, its prompt logits against the bf16 reference decoder's and its greedy ids
 * equal to the bf16 reference's. Also: the GPU-shaped kernels forced on PoCL in bf16, recompute bit-identical in bf16,
 * the bytes of a step, and a control that fp32 fails the bf16 rules. Every case captures the native stdout and fails
 * on an error line; the backend checks every task's device time (a fallback to Java or a failed launch throws).
 */
class TornadoBf16Test {
    private static TornadoBackend backend;

    @BeforeAll
    static void strictBackend() {
        TornadoBackend def = (TornadoBackend) new TornadoBackendProvider().create("");
        backend = new TornadoBackend(def.id(), def.device(), true);
    }

    private static <T> T clean(String what, java.util.function.Supplier<T> body) {
        NativeStdout.Captured<T> run = NativeStdout.capture(body);
        assertTrue(run.errorLines().isEmpty(), what + ": TornadoVM printed errors: " + run.errorLines());
        return run.value();
    }

    static Stream<Path> vectorFolders() {
        return TestVectors.folders(Path.of("..", "testvectors")).stream();
    }

    /** The rule Bf16Test holds the jvm backend to against the bf16 reference: half the bf16 backward budget. */
    static double gradEps(ModelConfig c) {
        return Bf16Budget.of(c).pairGradEps();
    }

    @Test
    void backendRunsBothPrecisions() {
        assertEquals(Set.of(Precision.FP32, Precision.BF16), backend.precisions());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectorFolders")
    void likeTheBf16Reference(Path dir) {
        TestVectors tv = VectorCheck.recompute(TestVectors.load(dir), new ReferenceBackend(), Precision.BF16);
        CheckReport r = clean(dir.toString(), () -> VectorCheck.run(tv, backend, 1e-3, gradEps(tv.config()),
                Precision.BF16));
        System.out.println(dir.getFileName() + " tornado bf16 vs reference bf16: " + r.summary() + worst(r));
        assertTrue(r.passed(), dir.getFileName() + " tornado bf16 vs reference bf16:\n" + r.table());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectorFolders")
    void theFoldersFp32ValuesWithinTheBf16Budget(Path dir) {
        CheckReport r = clean(dir.toString(), () -> VectorCheck.runBf16(TestVectors.load(dir), backend));
        System.out.println(dir.getFileName() + " tornado bf16 vs the folder's fp32: " + r.summary() + worst(r)
                + "; " + Bf16Budget.of(TestVectors.load(dir).config()).describe());
        assertTrue(r.passed(), dir.getFileName() + ":\n" + r.table());
    }

    /** The largest rel_l2 of the logits and of the gradients, for the log. */
    private static String worst(CheckReport r) {
        double fwd = r.rows().stream().filter(x -> x.tensor().equals("logits")).mapToDouble(x -> x.relL2()).max()
                .orElse(Double.NaN);
        double grad = r.rows().stream().filter(x -> x.tensor().startsWith("grad.")).mapToDouble(x -> x.relL2()).max()
                .orElse(Double.NaN);
        return String.format(java.util.Locale.ROOT, " (logits rel_l2 %.2e, worst gradient rel_l2 %.2e)", fwd, grad);
    }

    /**
     * The checks above tell the precisions apart: the fp32 session and the fp32 decoder do not pass the bf16
     * reference's forward rule (their logits are about u = 2^-8 away, past eps 1e-3), so a bf16 run that silently
     * computed in fp32 would fail them.
     */
    @Test
    void fp32DoesNotPassForBf16() {
        Path dir = Path.of("..", "testvectors", "gpt2-tiny");
        TestVectors tv = VectorCheck.recompute(TestVectors.load(dir), new ReferenceBackend(), Precision.BF16);
        CheckReport fp32 = clean("fp32", () -> VectorCheck.run(tv, backend, 1e-3, gradEps(tv.config()),
                Precision.FP32));
        assertTrue(fp32.rows().stream().anyMatch(x -> x.tensor().equals("logits") && !x.ok()), fp32.table());
        ModelConfig c = tv.config();
        int[] prompt = java.util.Arrays.copyOf(tv.inputs(), 3);
        float[] ref = referenceDecoderLogits(c, tv, prompt);
        float[] dev = clean("fp32 decoder", () -> {
            try (Decoder d = backend.openDecoder(c, tv.params(), c.maxSeqLen(), Precision.FP32)) {
                return d.prefill(prompt).clone();
            }
        });
        assertTrue(!Comparison.tensor("logits", dev, ref, 1e-3).ok(), Comparison.tensor("logits", dev, ref, 1e-3)
                .toString());
    }

    private static float[] referenceDecoderLogits(ModelConfig c, TestVectors tv, int[] prompt) {
        try (Decoder d = new ReferenceBackend().openDecoder(c, tv.params(), c.maxSeqLen(), Precision.BF16)) {
            return d.prefill(prompt).clone();
        }
    }

    /**
     * Recompute in bf16 changes memory, not results (as RecomputeTest in fp32): bit-identical losses, logits,
     * gradients and parameters over two steps; GPT-2 post-norm (no norm before the blocks: the matmuls read the
     * stream's bf16 copy, which recompute makes again) and Llama pre-norm with GQA.
     */
    @Test
    void recomputeIsBitIdenticalInBf16() {
        for (ModelConfig c : new ModelConfig[] {
                TornadoBackendTest.gpt2(2, 3, 10, 50, 259, io.resflow.model.Residual.POST, false, 13),
                TornadoBackendTest.llama(2, 32, 4, 2, 8, 44, 131, io.resflow.model.Residual.PRE, true, 42)}) {
            int B = 2;
            int T = 7;
            io.resflow.model.Params init = io.resflow.model.Initializer.init(c);
            int[] x = ReferenceComparison.tokens(B * T, c.vocabSize(), c.initSeed() + 1);
            int[] y = ReferenceComparison.tokens(B * T, c.vocabSize(), c.initSeed() + 2);
            io.resflow.engine.AdamW opt = new io.resflow.engine.AdamW(0.9, 0.95, 1e-8, 0.1);
            String name = c.family() + " " + c.residual();
            clean(name, () -> {
                try (TornadoSession plain = backend.open(c, init, B, T,
                        new io.resflow.engine.SessionOptions(false, false, Precision.BF16));
                        TornadoSession re = backend.open(c, init, B, T,
                                new io.resflow.engine.SessionOptions(true, false, Precision.BF16))) {
                    assertEquals(Precision.BF16, re.precision());
                    for (int step = 0; step < 2; step++) {
                        assertEquals(plain.forward(x, y), re.forward(x, y), 0.0, name + " loss");
                        assertArrayEquals(plain.logits(), re.logits(), 0f, name + " logits");
                        plain.backward();
                        re.backward();
                        for (var t : plain.grads().tensors()) {
                            assertArrayEquals(t.data(), re.grads().data(t.name()), 0f, name + " grad " + t.name());
                        }
                        plain.step(opt, 1e-3, 1.0);
                        re.step(opt, 1e-3, 1.0);
                    }
                    for (var t : plain.params().tensors()) {
                        assertArrayEquals(t.data(), re.params().data(t.name()), 0f, name + " param " + t.name());
                    }
                }
                return null;
            });
        }
    }

    /**
     * The GPU-shaped kernels in bf16, forced on PoCL (-Dresflow.tornado.shapes=gpu, as GpuShapesTest): the tiled
     * matmul reading the 16-bit weights into its local tiles and flash attention, against the bf16 reference, on a
     * GPT-2 folder with odd sizes and a Llama one (RoPE, tied head, head_dim != d/heads).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("gpuFolders")
    void gpuShapesLikeTheBf16Reference(String folder) {
        Path dir = Path.of("..", "testvectors", folder);
        TestVectors tv = VectorCheck.recompute(TestVectors.load(dir), new ReferenceBackend(), Precision.BF16);
        String before = System.getProperty(LaunchShapes.SHAPES_PROPERTY);
        System.setProperty(LaunchShapes.SHAPES_PROPERTY, "gpu");
        try {
            try (TornadoSession s = backend.open(tv.config(), tv.params(), tv.batch(), tv.seqLen(),
                    new io.resflow.engine.SessionOptions(false, false, Precision.BF16))) {
                assertTrue(s.shapes().gpu && s.shapes().tiledMatmul(), s.shapes().describe());
            }
            CheckReport r = clean(folder, () -> VectorCheck.run(tv, backend, 1e-3, gradEps(tv.config()),
                    Precision.BF16));
            System.out.println(folder + " tornado bf16, GPU shapes, vs reference bf16: " + r.summary() + worst(r));
            assertTrue(r.passed(), folder + " GPU shapes:\n" + r.table());
        } finally {
            if (before == null) {
                System.clearProperty(LaunchShapes.SHAPES_PROPERTY);
            } else {
                System.setProperty(LaunchShapes.SHAPES_PROPERTY, before);
            }
        }
    }

    /**
     * Resident on the device in bf16 too: after the first step a training step sends only the tokens, layer indices
     * and AdamW's scalars in (TornadoVM counts 24 bytes of bookkeeping per task: 3,792 bytes for this 2-layer Llama,
     * whose smallest parameter tensor is 128 bytes and whose activations are 300 KB) and the loss out; a decode step
     * the token and position in and the logits out, the same at every position.
     */
    @Test
    void aStepMovesNoTensor() {
        ModelConfig c = TornadoBackendTest.llama(2, 32, 4, 2, 8, 44, 259, io.resflow.model.Residual.PRE, false, 12);
        io.resflow.model.Params init = io.resflow.model.Initializer.init(c);
        int[] x = ReferenceComparison.tokens(2 * 13, c.vocabSize(), 1);
        io.resflow.engine.AdamW opt = new io.resflow.engine.AdamW(0.9, 0.95, 1e-8, 0.1);
        clean("bytes", () -> {
            try (TornadoSession s = backend.open(c, init, 2, 13,
                    new io.resflow.engine.SessionOptions(false, false, Precision.BF16))) {
                long[] first = null;
                for (int i = 0; i < 3; i++) {
                    s.forward(x, x);
                    s.backward();
                    s.step(opt, 1e-3, 1.0);
                    long[] b = s.lastStepBytes();
                    System.out.println("tornado bf16 training step " + i + ": " + b[0] + " bytes in, " + b[1] + " out");
                    if (i == 1) {
                        first = b;
                    } else if (i == 2) {
                        assertArrayEquals(first, b, "bytes per step");
                    }
                }
                assertTrue(first[0] <= 4096 && first[1] <= 64, first[0] + " in, " + first[1] + " out");
            }
            try (TornadoDecoder d = backend.openDecoder(c, init, 16, Precision.BF16)) {
                d.prefill(new int[] {1, 2, 3});
                long[] first = d.lastStepBytes();
                System.out.println("tornado bf16 decode step: " + first[0] + " bytes in, " + first[1] + " out");
                for (int i = 0; i < 3; i++) {
                    d.decode(7 + i);
                    assertArrayEquals(first, d.lastStepBytes(), "decode bytes at position " + (3 + i));
                }
                assertTrue(first[0] <= 2048 && first[1] >= 4L * c.vocabSize() && first[1] <= 4L * c.vocabSize() + 1024,
                        first[0] + " in, " + first[1] + " out");
            }
            return null;
        });
    }

    static Stream<String> gpuFolders() {
        return Stream.of("gpt2-odd-noprefix", "llama-tied-headdim");
    }

    /** gpt2-deep-104 is left out, as in TornadoDecoderTest (its decode graph: about 1,460 tasks in fp32, more here). */
    static Stream<Path> decoderFolders() {
        return vectorFolders().filter(p -> !p.getFileName().toString().equals("gpt2-deep-104"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("decoderFolders")
    void decoderLikeItsOwnForwardAndGreedyIdsLikeTheBf16Reference(Path dir) {
        TestVectors tv = TestVectors.load(dir);
        ModelConfig c = tv.config();
        int n = Math.min(c.maxSeqLen(), tv.seqLen());
        DecodeCheck k = clean(dir.toString(), () -> DecodeCheck.run(backend, c, tv.params(),
                java.util.Arrays.copyOf(tv.inputs(), n), 2, Precision.BF16));
        System.out.println("tornado bf16 decode, " + dir.getFileName() + ": " + k);
        assertTrue(k.passes(Bf16Budget.of(c).forwardEps() / 2), dir.getFileName() + ": " + k);
        int[] prompt = java.util.Arrays.copyOf(tv.inputs(), 3);
        // the prompt's logits against the bf16 reference decoder's, at the forward rule (eps 1e-3)
        float[] refLogits = referenceDecoderLogits(c, tv, prompt);
        float[] devLogits = clean(dir.toString(), () -> {
            try (Decoder d = backend.openDecoder(c, tv.params(), c.maxSeqLen(), Precision.BF16)) {
                return d.prefill(prompt).clone();
            }
        });
        Comparison.Row row = Comparison.tensor("prompt logits", devLogits, refLogits, 1e-3);
        System.out.println("tornado bf16 decoder vs reference bf16 decoder, " + dir.getFileName() + ": " + row);
        assertTrue(row.ok(), dir.getFileName() + ": " + row);
        int[] ref;
        try (Decoder d = new ReferenceBackend().openDecoder(c, tv.params(), c.maxSeqLen(), Precision.BF16)) {
            ref = Generator.generate(d, prompt, 1000, Sampling.GREEDY, Set.of(), null).ids();
        }
        int[] dev = clean(dir.toString(), () -> {
            try (Decoder d = backend.openDecoder(c, tv.params(), c.maxSeqLen(), Precision.BF16)) {
                return Generator.generate(d, prompt, 1000, Sampling.GREEDY, Set.of(), null).ids();
            }
        });
        assertArrayEquals(ref, dev, dir.getFileName() + ": bf16 greedy ids differ from the bf16 reference's");
    }

    // out[i] = widen(w[i]) for i < m[0] (the test's look at the 16-bit copy, as the matmul kernels read it)
    public static void widenAll(KernelContext ctx, FloatArray out, ShortArray w, FloatArray pow2, IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(0)) {
            out.set(i, Bf16Kernels.widen(w.get(i), pow2));
        }
    }

    /**
     * The device's rounding kernel, its 16-bit weight copy and its widening, bit for bit the reference's
     * ({@code io.resflow.reference.Bf16}) on every finite float kind: random bits, ties, the largest and smallest
     * exponents, subnormals, values that round to infinity, +-0; and every one of the 65,536 bf16 bit patterns widened.
     * Not bit for bit, by design (the kernels have no bit access, see {@link Bf16Kernels}): a NaN stays the NaN it was
     * (the reference also quiets it and drops its payload's low 16 bits), its 16 bits are 0x7fc0 and widen to
     * infinity (any NaN pattern widens to the infinity of its sign), and -0's bits are +0's.
     */
    @Test
    void roundingIsTheReferencesBitForBit() {
        String bad = clean("rounding", () -> roundingMismatches(null));
        assertTrue(bad.isEmpty(), bad);
    }

    /** The rounding check on {@code device} (null: TornadoVM's default); the mismatches found, empty if none. */
    static String roundingMismatches(uk.ac.manchester.tornado.api.common.TornadoDevice device) {
        SplittableRandom r = new SplittableRandom(3);
        int n = 4099;
        float[] x = new float[n];
        float[] specials = {0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_NORMAL,
            -Float.MIN_VALUE, Float.MAX_VALUE, 0x1.ff8p127f, 0x1.fe8p127f, 1.00390625f, 1.01171875f, Float.NaN};
        for (int i = 0; i < n; i++) {
            x[i] = switch (i % 9) {
                case 0 -> Float.intBitsToFloat(r.nextInt()); // any bits: NaNs, infinities, subnormals
                case 1 -> Float.intBitsToFloat((r.nextInt() & 0xffff0000) | 0x8000); // ties
                case 2 -> Float.MAX_VALUE * (r.nextBoolean() ? 1 : -1);
                case 3 -> Float.intBitsToFloat(r.nextInt() & 0x807fffff); // subnormals
                // the largest and the smallest normal exponent
                case 4 -> Float.intBitsToFloat((r.nextInt(0x800000) + (r.nextBoolean() ? 0x7f000000 : 0x00800000))
                        | (r.nextBoolean() ? 0x80000000 : 0));
                case 5 -> specials[i / 9 % specials.length];
                default -> (float) (r.nextGaussian() * Math.exp(r.nextDouble() * 40 - 20));
            };
        }
        FloatArray a = new FloatArray(n);
        FloatArray p = new FloatArray(n);
        for (int i = 0; i < n; i++) {
            a.set(i, x[i]);
            p.set(i, x[i]);
        }
        ShortArray w = new ShortArray(n);
        FloatArray widened = new FloatArray(n);
        int all = 65536;
        ShortArray patterns = new ShortArray(all);
        for (int i = 0; i < all; i++) {
            patterns.set(i, (short) i);
        }
        FloatArray patternsWidened = new FloatArray(all);
        FloatArray pow2 = FloatArray.fromArray(Bf16Kernels.pow2Table());
        IntArray zero = new IntArray(1);
        IntArray m = Args.of(0, 0, n);
        IntArray mw = Args.of(n);
        IntArray ma = Args.of(all);
        KernelContext ctx = new KernelContext();
        TaskGraph tg = new TaskGraph("bf16")
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, a, p, w, zero, m, mw, ma, pow2, patterns)
                // w held first by the touch kernel, as the sessions' owner graph holds p16: when the weights task is
                // its first user TornadoVM allocates it write-only (oclgrind then reports the widen task's reads)
                .task("hold", Bf16Kernels::touch, ctx, w, pow2, zero)
                .task("round", Bf16Kernels::rounding, ctx, a, pow2, zero, m)
                .task("weights", Bf16Kernels::weights, ctx, w, p, pow2, mw)
                .task("widen", TornadoBf16Test::widenAll, ctx, widened, w, pow2, mw)
                .task("patterns", TornadoBf16Test::widenAll, ctx, patternsWidened, patterns, pow2, ma)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, a, w, widened, patternsWidened);
        WorkerGrid1D grid = new WorkerGrid1D(4160);
        grid.setLocalWork(64, 1, 1);
        WorkerGrid1D allGrid = new WorkerGrid1D(all);
        allGrid.setLocalWork(64, 1, 1);
        GridScheduler gs = new GridScheduler("bf16.round", grid);
        gs.addWorkerGrid("bf16.hold", grid);
        gs.addWorkerGrid("bf16.weights", grid);
        gs.addWorkerGrid("bf16.widen", grid);
        gs.addWorkerGrid("bf16.patterns", allGrid);
        TornadoProfilerResult prof;
        try (TornadoExecutionPlan plan = new TornadoExecutionPlan(tg.snapshot())) {
            if (device != null) {
                plan.withDevice(device);
            }
            prof = plan.withGridScheduler(gs).withProfiler(ProfilerMode.SILENT).execute().getProfilerResult();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        new DeviceChecks("test").requireRan("bf16", prof, true);
        int bad = 0;
        StringBuilder why = new StringBuilder();
        for (int i = 0; i < n; i++) {
            int want = Float.floatToRawIntBits(io.resflow.reference.Bf16.round(x[i]));
            short wantBits = io.resflow.reference.Bf16.bits(x[i]);
            int dev = Float.floatToRawIntBits(a.get(i));
            int wide = Float.floatToRawIntBits(widened.get(i));
            String what = null;
            if (Float.isNaN(x[i])) {
                if (dev != Float.floatToRawIntBits(x[i]) || w.get(i) != 0x7fc0
                        || widened.get(i) != Float.POSITIVE_INFINITY) {
                    what = "NaN";
                }
            } else if (dev != want) {
                what = "rounding";
            } else if (w.get(i) != (x[i] == 0 ? 0 : wantBits)) {
                what = "16-bit copy"; // -0 gives +0's bits
            } else if (wide != (x[i] == 0 ? 0 : want)) {
                what = "widened copy";
            } else if (Float.floatToRawIntBits(Bf16Kernels.round(x[i], pow2)) != want) {
                what = "rounding as plain Java";
            }
            if (what != null && bad++ < 20) {
                why.append(String.format("%s at %d: x %08x reference %08x (bits %04x), device %08x, bits %04x, widened"
                        + " %08x%n", what, i, Float.floatToRawIntBits(x[i]), want, wantBits, dev, w.get(i), wide));
            }
        }
        for (int i = 0; i < all; i++) {
            float want = io.resflow.reference.Bf16.widen((short) i);
            float got = patternsWidened.get(i);
            boolean ok = Float.isNaN(want) ? Float.isInfinite(got) && (i < 0x8000) == (got > 0)
                    : Float.floatToRawIntBits(got) == Float.floatToRawIntBits(want);
            if (!ok && bad++ < 40) {
                why.append(String.format("pattern %04x widened to %08x, reference %08x%n", i,
                        Float.floatToRawIntBits(got), Float.floatToRawIntBits(want)));
            }
        }
        return bad == 0 ? "" : bad + " mismatches:\n" + why;
    }
}
