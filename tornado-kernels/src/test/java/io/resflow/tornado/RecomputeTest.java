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
 * families (Llama with grouped-query attention) and at 128 layers. Strict mode and the native-stdout capture as in
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
     * Every scheme once, the families alternating, so that each norm (LayerNorm, RMSNorm) is recomputed both before
     * the block (pre, none) and after the sum (post, deepnorm), and ReZero's gate with RoPE and SwiGLU; each case
     * compiles two sessions' graphs (~5 s each on PoCL here), hence not the full cross product.
     */
    static Stream<Arguments> configs() {
        return Stream.of(
                Arguments.of("gpt2 pre", TornadoBackendTest.gpt2(2, 3, 10, 50, 259, Residual.PRE, true, 41), 2, 7),
                Arguments.of("llama post, GQA 4/2, untied",
                        TornadoBackendTest.llama(2, 32, 4, 2, 8, 44, 131, Residual.POST, false, 42), 2, 7),
                Arguments.of("gpt2 deepnorm, untied",
                        TornadoBackendTest.gpt2(2, 3, 10, 50, 259, Residual.DEEPNORM, false, 43), 2, 7),
                Arguments.of("llama rezero, GQA 4/2",
                        TornadoBackendTest.llama(2, 32, 4, 2, 8, 44, 131, Residual.REZERO, true, 44), 2, 7),
                Arguments.of("gpt2 none", TornadoBackendTest.gpt2(2, 3, 10, 50, 259, Residual.NONE, true, 45), 2, 7));
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
