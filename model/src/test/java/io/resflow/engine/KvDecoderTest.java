package io.resflow.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.check.DecodeCheck;
import io.resflow.check.TestVectors;
import io.resflow.model.Activation;
import io.resflow.model.BadInputException;
import io.resflow.model.Family;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Norm;
import io.resflow.model.Params;
import io.resflow.model.Positions;
import io.resflow.model.Residual;
import io.resflow.reference.ReferenceBackend;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The reference's KV-cache decoder against its own full-sequence forward: at every position after a prompt the
 * logits must match (the same ops in the same order, so within float rounding of the attention's row length), on
 * GPT-2 with every residual scheme, Llama with GQA, and the test-vector models.
 */
class KvDecoderTest {
    static final double TOL = 1e-6;
    static final Backend REF = new ReferenceBackend();

    static ModelConfig gpt2(Residual r) {
        return new ModelConfig(Family.GPT2, 2, 48, 3, 3, 16, 131, 259, 20, Norm.LAYERNORM, 1e-5,
                Activation.GELU_TANH, Positions.LEARNED, 10000, true, r, 11);
    }

    static ModelConfig llamaGqa() {
        return new ModelConfig(Family.LLAMA, 2, 48, 4, 2, 12, 67, 259, 20, Norm.RMSNORM, 1e-5, Activation.SWIGLU,
                Positions.ROPE, 10000, false, Residual.PRE, 12);
    }

    static List<Path> vectorFolders() {
        return TestVectors.folders(Path.of(System.getProperty("resflow.testvectors", "../testvectors")));
    }

    @ParameterizedTest
    @EnumSource(Residual.class)
    void gpt2EveryResidualScheme(Residual r) {
        ModelConfig c = gpt2(r);
        for (int prefill : new int[] {1, 5, 20}) {
            DecodeCheck k = DecodeCheck.run(REF, c, TestInputs.openGates(c), TestInputs.tokens(prefill, 20, c.vocabSize()), prefill);
            assertTrue(k.passes(TOL), r + ", prefill " + prefill + ": " + k);
        }
    }

    @Test
    void llamaGroupedQueryAttention() {
        ModelConfig c = llamaGqa();
        for (int prefill : new int[] {1, 7}) {
            DecodeCheck k = DecodeCheck.run(REF, c, TestInputs.openGates(c), TestInputs.tokens(3 + prefill, 20, c.vocabSize()), prefill);
            assertTrue(k.passes(TOL), "prefill " + prefill + ": " + k);
        }
    }

    @ParameterizedTest
    @MethodSource("vectorFolders")
    void testVectorModels(Path dir) {
        TestVectors tv = TestVectors.load(dir);
        DecodeCheck k = DecodeCheck.run(REF, tv, 2);
        assertTrue(k.passes(TOL), dir.getFileName() + ": " + k);
    }

    @Test
    void prefillStartsOverAndTheCacheEnds() {
        ModelConfig c = llamaGqa();
        try (Decoder d = REF.openDecoder(c, TestInputs.openGates(c), 6)) {
            int[] toks = TestInputs.tokens(9, 6, c.vocabSize());
            float[] a = d.prefill(toks).clone();
            d.prefill(new int[] {1, 2});
            d.decode(3);
            float[] b = d.prefill(toks);
            assertArrayEquals(a, b, "a second prefill must not see the first sequence's cache");
            assertEquals(6, d.position());
            assertThrows(IllegalStateException.class, () -> d.decode(1));
            assertThrows(BadInputException.class, () -> d.prefill(TestInputs.tokens(1, 7, c.vocabSize())));
            assertThrows(BadInputException.class, () -> d.prefill(new int[] {c.vocabSize()}));
        }
        assertThrows(BadInputException.class, () -> REF.openDecoder(c, TestInputs.openGates(c), c.maxSeqLen() + 1));
    }

    @Test
    void greedyGenerationStopsAtEosAndCapacity() {
        ModelConfig c = gpt2(Residual.PRE);
        Params p = TestInputs.openGates(c);
        try (Decoder d = REF.openDecoder(c, p, c.maxSeqLen())) {
            Generator.Result all = Generator.generate(d, new int[] {5, 6, 7}, 100, Sampling.GREEDY, Set.of(), null);
            assertEquals(c.maxSeqLen(), all.ids().length);
            assertEquals("max_seq_len", all.stop());
            int eos = all.ids()[5];
            Generator.Result cut = Generator.generate(d, new int[] {5, 6, 7}, 100, Sampling.GREEDY, Set.of(eos), null);
            int first = -1;
            for (int i = 3; i < all.ids().length && first < 0; i++) {
                first = all.ids()[i] == eos ? i : -1;
            }
            assertEquals("eos", cut.stop());
            assertArrayEquals(java.util.Arrays.copyOf(all.ids(), first + 1), cut.ids());
            Generator.Result four = Generator.generate(d, new int[] {5, 6, 7}, 4, Sampling.GREEDY, Set.of(), null);
            assertArrayEquals(java.util.Arrays.copyOf(all.ids(), 7), four.ids());
            assertEquals("max_new_tokens", four.stop());
        }
    }

    @Test
    void seededSamplingIsReproducibleAndSeedsDiffer() {
        ModelConfig c = gpt2(Residual.PRE);
        Params p = TestInputs.openGates(c);
        Sampling s = new Sampling(1.5, 50, 0.95, 42);
        try (Decoder d = REF.openDecoder(c, p, c.maxSeqLen())) {
            int[] a = Generator.generate(d, new int[] {1}, 15, s, Set.of(), null).ids();
            int[] b = Generator.generate(d, new int[] {1}, 15, s, Set.of(), null).ids();
            int[] other = Generator.generate(d, new int[] {1}, 15, new Sampling(1.5, 50, 0.95, 43), Set.of(), null)
                    .ids();
            assertArrayEquals(a, b);
            assertTrue(!java.util.Arrays.equals(a, other), "seeds 42 and 43 gave the same 15 tokens");
        }
    }

    @Test
    void topKOfOneIsGreedy() {
        float[] logits = {0.1f, 2f, 2f, -1f};
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 20; i++) {
            int t = Generator.choose(logits, 4, new Sampling(1, 1, 1, 0), r);
            assertTrue(t == 1 || t == 2, "top_k 1 keeps the tokens tied with the largest, got " + t);
            assertEquals(1, Generator.choose(logits, 4, Sampling.GREEDY, r));
            assertTrue(Generator.choose(logits, 4, new Sampling(1, 0, 0.01, 0), r) == 1);
        }
    }
}
