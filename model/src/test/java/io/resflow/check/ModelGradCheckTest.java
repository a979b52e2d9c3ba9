package io.resflow.check;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.model.Activation;
import io.resflow.model.Family;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Norm;
import io.resflow.model.Params;
import io.resflow.model.Positions;
import io.resflow.model.Residual;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Finite differences through the whole reference model (embedding, every block, final norm, head, cross-entropy)
 * for each residual scheme and both families.
 */
class ModelGradCheckTest {

    static ModelConfig gpt2(Residual r) {
        return new ModelConfig(Family.GPT2, 2, 12, 3, 3, 4, 20, 17, 8, Norm.LAYERNORM, 1e-5, Activation.GELU_TANH,
                Positions.LEARNED, 10000, true, r, 5);
    }

    static ModelConfig llama(Residual r) {
        return new ModelConfig(Family.LLAMA, 2, 16, 4, 2, 4, 12, 19, 8, Norm.RMSNORM, 1e-5, Activation.SWIGLU,
                Positions.ROPE, 10000, false, r, 6);
    }

    /** Seeded weights, with norms and rezero gates moved off their initial 1 / 0 so every path carries gradient. */
    static Params perturbed(ModelConfig c) {
        Params p = Initializer.init(c);
        SplittableRandom r = new SplittableRandom(3);
        for (var t : p.tensors()) {
            if (t.name().contains("alpha") || t.name().contains("ln") || t.name().endsWith(".b")) {
                float[] d = t.data();
                for (int i = 0; i < d.length; i++) {
                    d[i] += (float) (0.3 * (r.nextDouble() - 0.5));
                }
            }
        }
        return p;
    }

    private static void check(ModelConfig c) {
        List<FiniteDifference.Result> results = ModelGradCheck.run(c, perturbed(c), ModelGradCheck.Options.defaults(c));
        for (FiniteDifference.Result r : results) {
            assertTrue(r.maxAbsGrad() > 0, c.family() + "/" + c.residual() + " " + r.name() + ": zero gradient");
            assertTrue(r.ok(1e-2), c.family() + "/" + c.residual() + " " + r.name() + ": rel_l2 " + r.relL2()
                    + " max_abs_err " + r.maxAbsErr() + " max|g| " + r.maxAbsGrad());
        }
    }

    @ParameterizedTest
    @EnumSource(Residual.class)
    void gpt2Family(Residual r) {
        check(gpt2(r));
    }

    @ParameterizedTest
    @EnumSource(Residual.class)
    void llamaFamily(Residual r) {
        check(llama(r));
    }
}
