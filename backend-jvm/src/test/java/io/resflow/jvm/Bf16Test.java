package io.resflow.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.check.CheckReport;
import io.resflow.check.DecodeCheck;
import io.resflow.check.TestVectors;
import io.resflow.check.VectorCheck;
import io.resflow.engine.Decoder;
import io.resflow.engine.Generator;
import io.resflow.engine.Precision;
import io.resflow.engine.Sampling;
import io.resflow.engine.TestInputs;
import io.resflow.model.ModelConfig;
import io.resflow.model.Residual;
import io.resflow.reference.ReferenceBackend;
import io.resflow.reference.ReferenceOps;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * The jvm backend in bf16: its rounding bit for bit the reference's, every test-vector folder against the bf16
 * reference (see {@link #gradEps}) and against the folder's fp32 values at the bf16 budget, every residual scheme
 * against the bf16 reference, its bf16 decoder against its own bf16 forward, and the one-row matmul on bf16 weights.
 */
class Bf16Test {
    static final JvmBackend JVM = new JvmBackend(2);

    static List<Path> vectorFolders() {
        return TestVectors.folders(Path.of("..", "testvectors"));
    }

    @Test
    void roundingIsTheReferencesBitForBit() {
        SplittableRandom r = new SplittableRandom(3);
        int n = 3 * Exec.CHUNK + 77;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = switch (i % 9) {
                case 0 -> Float.intBitsToFloat(r.nextInt()); // any bits: NaNs, infinities, subnormals
                case 1 -> Float.intBitsToFloat((r.nextInt() & 0xffff0000) | 0x8000); // ties
                case 2 -> Float.MAX_VALUE * (r.nextBoolean() ? 1 : -1);
                default -> (float) (r.nextGaussian() * Math.exp(r.nextDouble() * 40 - 20));
            };
        }
        float[] ref = x.clone();
        io.resflow.reference.Bf16.round(ref, n);
        float[] jvm = x.clone();
        new JvmOps(2, Precision.BF16).roundBf16(jvm, n);
        for (int i = 0; i < n; i++) {
            assertEquals(Float.floatToRawIntBits(ref[i]), Float.floatToRawIntBits(jvm[i]), "element " + i + " ("
                    + Integer.toHexString(Float.floatToRawIntBits(x[i])) + ")");
        }
        // the 16-bit weight copy holds the same bits, and widening gives the rounded floats back
        float[] w = x.clone();
        short[] bits = new Bf16(new Exec(2)).weight(w, n);
        for (int i = 0; i < n; i++) {
            assertEquals(Float.floatToRawIntBits(ref[i]), Float.floatToRawIntBits(io.resflow.reference.Bf16.widen(bits[i])),
                    "weight element " + i);
        }
    }

    /**
     * What a backend in bf16 is held to against the bf16 reference: the forward (logits, loss, the losses after each
     * step) at the float32 budget, eps 1e-3; gradients and updates at {@link io.resflow.check.Bf16Budget#pairGradEps}.
     */
    static double gradEps(ModelConfig c) {
        return io.resflow.check.Bf16Budget.of(c).pairGradEps();
    }

    @ParameterizedTest
    @MethodSource("vectorFolders")
    void likeTheBf16Reference(Path dir) {
        TestVectors tv = VectorCheck.recompute(TestVectors.load(dir), new ReferenceBackend(), Precision.BF16);
        CheckReport r = VectorCheck.run(tv, JVM, 1e-3, gradEps(tv.config()), Precision.BF16);
        assertTrue(r.passed(), dir.getFileName() + " jvm bf16 vs reference bf16:\n" + r.table());
    }

    @ParameterizedTest
    @MethodSource("vectorFolders")
    void theFoldersFp32ValuesWithinTheBf16Budget(Path dir) {
        CheckReport r = VectorCheck.runBf16(TestVectors.load(dir), JVM);
        assertTrue(r.passed(), dir.getFileName() + ":\n" + r.table());
    }

    @ParameterizedTest
    @EnumSource(Residual.class)
    void everyResidualSchemeLikeTheBf16Reference(Residual res) {
        ModelConfig c = JvmEngineTest.gpt2(res, 2);
        int B = 2;
        int T = 8;
        int[] in = TestInputs.tokens(1, B * T, c.vocabSize());
        int[] tgt = TestInputs.tokens(2, B * T, c.vocabSize());
        io.resflow.model.Params p = TestInputs.openGates(c);
        io.resflow.engine.SessionOptions o = io.resflow.engine.SessionOptions.DEFAULT.withPrecision(Precision.BF16);
        try (io.resflow.engine.Session ref = new ReferenceBackend().open(c, p, B, T, o);
                io.resflow.engine.Session jvm = JVM.open(c, p, B, T, o)) {
            double lr = ref.forward(in, tgt);
            double lj = jvm.forward(in, tgt);
            assertEquals(lr, lj, 1e-3 * Math.abs(lr), res + " loss");
            io.resflow.check.Comparison.Row logits = io.resflow.check.Comparison.tensor("logits", jvm.logits(),
                    ref.logits(), 1e-3);
            assertTrue(logits.ok(), res + ": " + logits);
            ref.backward();
            jvm.backward();
            for (io.resflow.model.Tensor t : ref.grads().tensors()) {
                io.resflow.check.Comparison.Row g = io.resflow.check.Comparison.tensor(t.name(),
                        jvm.grads().data(t.name()), t.data(), gradEps(c));
                assertTrue(g.ok(), res + ": " + g);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("vectorFolders")
    void decoderLikeItsOwnForwardAndGreedyIdsLikeTheBf16Reference(Path dir) {
        TestVectors tv = TestVectors.load(dir);
        int n = Math.min(tv.config().maxSeqLen(), tv.seqLen());
        DecodeCheck k = DecodeCheck.run(JVM, tv.config(), tv.params(), java.util.Arrays.copyOf(tv.inputs(), n), 2,
                Precision.BF16);
        // the decoder's GEMV and the forward's GEMM sum in different orders: held to half the bf16 forward budget
        assertTrue(k.passes(io.resflow.check.Bf16Budget.of(tv.config()).forwardEps() / 2), dir.getFileName() + ": " + k);
        int[] prompt = java.util.Arrays.copyOf(tv.inputs(), 3);
        int[] ref;
        int[] jvm;
        try (Decoder d = new ReferenceBackend().openDecoder(tv.config(), tv.params(), tv.config().maxSeqLen(),
                Precision.BF16)) {
            ref = Generator.generate(d, prompt, 1000, Sampling.GREEDY, Set.of(), null).ids();
        }
        try (Decoder d = JVM.openDecoder(tv.config(), tv.params(), tv.config().maxSeqLen(), Precision.BF16)) {
            jvm = Generator.generate(d, prompt, 1000, Sampling.GREEDY, Set.of(), null).ids();
        }
        assertArrayEquals(ref, jvm, dir.getFileName() + ": bf16 greedy ids differ from the bf16 reference's");
    }

    @Test
    void oneRowMatmulReadsTheBf16Weights() {
        SplittableRandom r = new SplittableRandom(5);
        for (int[] s : new int[][] {{131, 67}, {5, 3}, {64, 259}, {768, 64}}) {
            int C = s[0];
            int OC = s[1];
            float[] inp = JvmDecoderTest.random(r, C);
            io.resflow.reference.Bf16.round(inp, C);
            float[] w = JvmDecoderTest.random(r, OC * C);
            float[] b = JvmDecoderTest.random(r, OC);
            float[] want = new float[OC];
            new ReferenceOps(Precision.BF16).matmulForward(want, inp, w, b, 1, C, OC);
            for (int rows : new int[] {1, 3}) {
                float[] x = new float[rows * C];
                for (int i = 0; i < rows; i++) {
                    System.arraycopy(inp, 0, x, i * C, C);
                }
                float[] got = new float[rows * OC];
                new JvmOps(2, Precision.BF16).matmulForward(got, x, w, b, rows, C, OC);
                for (int i = 0; i < rows; i++) {
                    for (int o = 0; o < OC; o++) {
                        assertEquals(want[o], got[i * OC + o], 1e-5 * (1 + Math.abs(want[o])), C + "x" + OC + " rows "
                                + rows + " [" + o + "]");
                    }
                }
            }
        }
    }
}
