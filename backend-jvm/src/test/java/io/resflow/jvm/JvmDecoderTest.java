package io.resflow.jvm;

import io.resflow.engine.TestInputs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.check.DecodeCheck;
import io.resflow.check.TestVectors;
import io.resflow.engine.Backend;
import io.resflow.engine.Decoder;
import io.resflow.engine.Generator;
import io.resflow.engine.Sampling;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import io.resflow.model.Residual;
import io.resflow.reference.ReferenceBackend;
import io.resflow.reference.ReferenceOps;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The jvm backend's KV-cache decoder: its logits against its own full-sequence forward at every position (GPT-2 with
 * every residual scheme, Llama with GQA, the test-vector models), its decode ops against the reference's at odd
 * sizes, and greedy ids identical to the reference's on the test-vector models.
 */
class JvmDecoderTest {
    static final double TOL = JvmEngineTest.TOL_FWD;
    static final Backend JVM = new JvmBackend(2);

    static List<Path> vectorFolders() {
        return TestVectors.folders(Path.of("..", "testvectors"));
    }

    @ParameterizedTest
    @EnumSource(Residual.class)
    void gpt2EveryResidualScheme(Residual r) {
        ModelConfig c = JvmEngineTest.gpt2(r, 2);
        for (int prefill : new int[] {1, 6, 16}) {
            DecodeCheck k = DecodeCheck.run(JVM, c, TestInputs.openGates(c), TestInputs.tokens(prefill, 16, c.vocabSize()),
                    prefill);
            assertTrue(k.passes(TOL), r + ", prefill " + prefill + ": " + k);
        }
    }

    @Test
    void llamaGroupedQueryAttention() {
        ModelConfig c = JvmEngineTest.llama();
        for (int prefill : new int[] {1, 9}) {
            DecodeCheck k = DecodeCheck.run(JVM, c, TestInputs.openGates(c), TestInputs.tokens(5, 16, c.vocabSize()), prefill);
            assertTrue(k.passes(TOL), "prefill " + prefill + ": " + k);
        }
    }

    @ParameterizedTest
    @MethodSource("vectorFolders")
    void testVectorModelsAndGreedyIdsLikeTheReference(Path dir) {
        TestVectors tv = TestVectors.load(dir);
        DecodeCheck k = DecodeCheck.run(JVM, tv, 2);
        assertTrue(k.passes(TOL), dir.getFileName() + ": " + k);
        int[] prompt = java.util.Arrays.copyOf(tv.inputs(), 3);
        int[] ref;
        int[] jvm;
        try (Decoder d = new ReferenceBackend().openDecoder(tv.config(), tv.params(), tv.config().maxSeqLen())) {
            ref = Generator.generate(d, prompt, 1000, Sampling.GREEDY, Set.of(), null).ids();
        }
        try (Decoder d = JVM.openDecoder(tv.config(), tv.params(), tv.config().maxSeqLen())) {
            jvm = Generator.generate(d, prompt, 1000, Sampling.GREEDY, Set.of(), null).ids();
        }
        assertArrayEquals(ref, jvm, dir.getFileName() + ": greedy ids differ from the reference's");
    }

    static float[] random(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return a;
    }

    @Test
    void decodeOpsMatchTheReferenceAtOddSizes() {
        SplittableRandom r = new SplittableRandom(7);
        JvmOps jvm = new JvmOps(2);
        ReferenceOps ref = new ReferenceOps();
        // one-row matmul (the GEMV path) with and without bias, C and OC not multiples of the lanes
        for (int[] s : new int[][] {{131, 67}, {5, 3}, {64, 259}}) {
            float[] in = random(r, s[0]);
            float[] w = random(r, s[0] * s[1]);
            float[] b = random(r, s[1]);
            for (float[] bias : new float[][] {null, b}) {
                float[] a = new float[s[1]];
                float[] e = new float[s[1]];
                jvm.matmulForward(a, in, w, bias, 1, s[0], s[1]);
                ref.matmulForward(e, in, w, bias, 1, s[0], s[1]);
                assertTrue(JvmEngineTest.relL2(a, e) < 1e-6, "gemv " + s[0] + "x" + s[1]);
            }
        }
        // attention over a cache: 6 query heads on 2 kv heads of 12 (and of 5: no whole vector), 3 new rows at 4
        for (int hd : new int[] {12, 5, 16}) {
            int nh = 6;
            int nkv = 2;
            int T = 3;
            int pos0 = 4;
            int cap = 9;
            float[] qkv = random(r, T * (nh + 2 * nkv) * hd);
            float[] kc = random(r, cap * nkv * hd);
            float[] vc = random(r, cap * nkv * hd);
            float[] kc2 = kc.clone();
            float[] vc2 = vc.clone();
            float[] a = new float[T * nh * hd];
            float[] e = new float[T * nh * hd];
            jvm.attentionDecode(a, kc, vc, qkv, T, pos0, nh, nkv, hd);
            ref.attentionDecode(e, kc2, vc2, qkv, T, pos0, nh, nkv, hd);
            assertArrayEquals(kc2, kc);
            assertArrayEquals(vc2, vc);
            assertTrue(JvmEngineTest.relL2(a, e) < 1e-6, "attention decode hd " + hd);
        }
        // RoPE at an offset: rows at positions 5.. equal rows 5.. of a full rotation
        int nh = 4;
        int nkv = 2;
        int hd = 12;
        int w = (nh + 2 * nkv) * hd;
        float[] full = random(r, 9 * w);
        float[] tail = java.util.Arrays.copyOfRange(full, 5 * w, 9 * w);
        float[] tailRef = tail.clone();
        jvm.ropeForward(full, 1, 9, nh, nkv, hd, 10000);
        jvm.ropeForwardAt(tail, 4, 5, nh, nkv, hd, 10000);
        ref.ropeForwardAt(tailRef, 4, 5, nh, nkv, hd, 10000);
        assertArrayEquals(java.util.Arrays.copyOfRange(full, 5 * w, 9 * w), tail);
        assertTrue(JvmEngineTest.relL2(tail, tailRef) < 1e-6);
    }
}
