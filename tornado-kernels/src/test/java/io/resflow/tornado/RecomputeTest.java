package io.resflow.tornado;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.engine.AdamW;
import io.resflow.engine.SessionOptions;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import io.resflow.model.Residual;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Recompute on the device changes memory, not results: two sessions on the same weights and tokens, one keeping every
 * activation and one keeping only each block's input, give bit-identical losses, logits, gradients, gradient norms,
 * parameters and AdamW moments over two steps (the second with clip scale 0.5), for every residual scheme in both
 * families (Llama with grouped-query attention: ten cases) and at 128 layers. Strict mode and the native-stdout capture as in
 * {@link TornadoBackendTest}.
 */
class RecomputeTest {
    private static TornadoBackend backend;

    @BeforeAll
    static void strictBackend() {
        TornadoBackend def = (TornadoBackend) new TornadoBackendProvider().create("");
        backend = new TornadoBackend(def.id(), def.device(), true);
    }

    /**
     * Every residual scheme in both families: each norm (LayerNorm, RMSNorm) recomputed before the block (pre, none,
     * rezero) and after the sum (post, deepnorm), ReZero's gate and DeepNorm's alpha with RoPE, SwiGLU and grouped-query
     * attention; tied and untied heads alternate. Each case compiles two sessions' graphs (~5 s each on PoCL here).
     */
    static Stream<Arguments> configs() {
        Stream.Builder<Arguments> cases = Stream.builder();
        int seed = 41;
        for (Residual r : Residual.values()) {
            boolean tied = r.ordinal() % 2 == 0;
            String name = r.name().toLowerCase(java.util.Locale.ROOT);
            cases.add(Arguments.of("gpt2 " + name + (tied ? "" : ", untied"),
                    TornadoBackendTest.gpt2(2, 3, 10, 50, 259, r, tied, seed++), 2, 7));
            cases.add(Arguments.of("llama " + name + ", GQA 4/2" + (tied ? ", untied" : ""),
                    TornadoBackendTest.llama(2, 32, 4, 2, 8, 44, 131, r, !tied, seed++), 2, 7));
        }
        return cases.build();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void bitIdentical(String name, ModelConfig c, int batch, int seqLen) {
        assertSameRun(name, c, batch, seqLen);
    }

    @Test
    void bitIdenticalAt128Layers() {
        assertSameRun("llama pre, 128 layers", TornadoBackendTest.llama(128, 16, 2, 1, 8, 24, 64, Residual.PRE, false,
                60), 1, 6);
    }

    private static void assertSameRun(String name, ModelConfig c, int B, int T) {
        Params init = Initializer.init(c);
        int[] x = ReferenceComparison.tokens(B * T, c.vocabSize(), c.initSeed() + 1);
        int[] y = ReferenceComparison.tokens(B * T, c.vocabSize(), c.initSeed() + 2);
        AdamW opt = new AdamW(0.9, 0.95, 1e-8, 0.1);
        NativeStdout.Captured<Void> run = NativeStdout.capture(() -> {
            try (TornadoSession plain = backend.open(c, init, B, T, new SessionOptions(false));
                    TornadoSession re = backend.open(c, init, B, T, new SessionOptions(true))) {
                assertTrue(re.activationBytes() < plain.activationBytes(), name + ": recompute holds less");
                double[] scale = {1.0, 0.5};
                for (int step = 0; step < 2; step++) {
                    String at = name + ", step " + (step + 1) + ": ";
                    assertEquals(plain.forward(x, y), re.forward(x, y), 0.0, at + "loss");
                    assertArrayEquals(plain.logits(), re.logits(), 0f, at + "logits");
                    plain.backward();
                    re.backward();
                    assertSame(at + "gradient ", plain.grads(), re.grads());
                    assertEquals(plain.gradNorm(), re.gradNorm(), 0.0, at + "gradient norm");
                    plain.step(opt, 1e-3, scale[step]);
                    re.step(opt, 1e-3, scale[step]);
                }
                assertSame(name + ": parameter ", plain.params(), re.params());
                assertSame(name + ": m ", plain.optimizerState().m(), re.optimizerState().m());
                assertSame(name + ": v ", plain.optimizerState().v(), re.optimizerState().v());
                assertEquals(plain.forward(x, y), re.forward(x, y), 0.0, name + ": loss after two steps");
                assertFalse(plain.activations().isEmpty());
                assertTrue(re.activations().isEmpty(), name + ": recompute keeps no per-block activations");
            }
            return null;
        });
        assertTrue(run.errorLines().isEmpty(), name + ": TornadoVM printed errors: " + run.errorLines());
    }

    private static void assertSame(String what, Params expected, Params actual) {
        for (var t : expected.tensors()) {
            assertArrayEquals(t.data(), actual.data(t.name()), 0f, what + t.name() + " differs");
        }
    }
}
