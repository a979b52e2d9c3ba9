package io.resflow.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.model.Activation;
import io.resflow.model.Family;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Norm;
import io.resflow.model.Params;
import io.resflow.model.Positions;
import io.resflow.model.Residual;
import io.resflow.reference.ReferenceOps;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Activation recomputation changes memory, not results: gradients and updates are bit-identical. */
class RecomputeTest {

    static ModelConfig config(Residual r, int layers) {
        return new ModelConfig(Family.GPT2, layers, 16, 2, 2, 8, 32, 37, 16, Norm.LAYERNORM, 1e-5,
                Activation.GELU_TANH, Positions.LEARNED, 10000, true, r, 9);
    }

    static void assertSameRun(ModelConfig c, int B, int T) {
        Params init = Initializer.init(c);
        int[] x = TestInputs.tokens(1, B * T, c.vocabSize());
        int[] y = TestInputs.tokens(2, B * T, c.vocabSize());
        try (Engine plain = new Engine(c, init, B, T, new SessionOptions(false), new ReferenceOps());
                Engine re = new Engine(c, init, B, T, new SessionOptions(true), new ReferenceOps())) {
            for (int step = 0; step < 2; step++) {
                double l1 = plain.forward(x, y);
                double l2 = re.forward(x, y);
                assertEquals(l1, l2, 0.0, "loss differs at step " + step);
                plain.backward();
                re.backward();
                for (var t : plain.grads().tensors()) {
                    assertArrayEquals(t.data(), re.grads().data(t.name()), 0f, "gradient " + t.name() + " differs");
                }
                plain.step(AdamW.of(0.1), 1e-3, 1.0);
                re.step(AdamW.of(0.1), 1e-3, 1.0);
            }
            for (var t : plain.params().tensors()) {
                assertArrayEquals(t.data(), re.params().data(t.name()), 0f, "parameter " + t.name() + " differs");
            }
            assertTrue(re.activations().isEmpty(), "recompute keeps no per-block activations");
        }
    }

    @ParameterizedTest
    @EnumSource(Residual.class)
    void identicalGradientsForEveryScheme(Residual r) {
        assertSameRun(config(r, 3), 2, 8);
    }

    @Test
    void identicalGradientsAt128Layers() {
        assertSameRun(config(Residual.PRE, 128), 1, 8);
    }
}
