package io.resflow.tornado;

import io.resflow.model.Activation;
import io.resflow.model.Family;
import io.resflow.model.ModelConfig;
import io.resflow.model.Norm;
import io.resflow.model.Positions;
import io.resflow.model.Residual;
import org.junit.jupiter.api.Test;

class SmokeTest {
    @Test
    void gpt2Tiny() {
        TornadoBackend backend = (TornadoBackend) new TornadoBackendProvider().create("");
        ModelConfig c = new ModelConfig(Family.GPT2, 2, 24, 3, 3, 8, 40, 37, 16, Norm.LAYERNORM, 1e-5,
                Activation.GELU_TANH, Positions.LEARNED, 10000, true, Residual.PRE, 7);
        ReferenceComparison.run(backend, c, 2, 5).assertPassed("smoke");
    }
}
