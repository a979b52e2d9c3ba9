package io.resflow.jvm;

import io.resflow.engine.TestInputs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.engine.AdamW;
import io.resflow.engine.Engine;
import io.resflow.engine.SessionOptions;
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

/**
 * The whole model: the shared Engine over JvmOps against the Engine over ReferenceOps on seeded random models
 * (GPT-2 and Llama families, every residual scheme, a 128-layer one): loss, logits, every gradient, and every
 * parameter's AdamW update over a few steps, each step compared at the same parameters (the reference takes the jvm's
 * parameters and optimizer state after each update).
 */
class JvmEngineTest {
    static final double TOL_FWD = 2e-5;
    static final double TOL_GRAD = 1e-4;

    static ModelConfig gpt2(Residual r, int layers) {
        // d_model 48, 3 heads of 16, d_ff 131, vocab 259: none a multiple of the 64-column GEMM panel
        return new ModelConfig(Family.GPT2, layers, 48, 3, 3, 16, 131, 259, 16, Norm.LAYERNORM, 1e-5,
                Activation.GELU_TANH, Positions.LEARNED, 10000, true, r, 11);
    }

    static ModelConfig llama() {
        // GQA 4 query heads on 2 kv heads of 12, SwiGLU, RoPE, RMSNorm, untied head
        return new ModelConfig(Family.LLAMA, 2, 48, 4, 2, 12, 67, 259, 16, Norm.RMSNORM, 1e-5, Activation.SWIGLU,
                Positions.ROPE, 10000, false, Residual.PRE, 12);
    }

    static double relL2(float[] x, float[] r) {
        double d = 0;
        double n = 0;
        for (int i = 0; i < x.length; i++) {
            double e = (double) x[i] - r[i];
            d += e * e;
            n += (double) r[i] * r[i];
        }
        return n == 0 ? Math.sqrt(d) : Math.sqrt(d / n);
    }

    static final double LR = 1e-3;

    /**
     * The repository's update rule (testvectors/README.md): d = after - before; on entries whose oracle gradient is at
     * least 1e-2 of the tensor's largest, rel_l2(d, d_ref) <= 1e-3; on every entry |d - d_ref| <= 2.5 lr. (Entries
     * whose true gradient is zero, such as the key bias, carry rounding noise that AdamW normalises to +-lr.)
     */
    static void checkUpdate(String what, float[] before, float[] after, float[] refBefore, float[] refAfter,
            float[] refGrad) {
        double maxG = 0;
        for (float g : refGrad) {
            maxG = Math.max(maxG, Math.abs(g));
        }
        double diff = 0;
        double norm = 0;
        double worst = 0;
        for (int i = 0; i < before.length; i++) {
            double d = (double) after[i] - before[i];
            double dr = (double) refAfter[i] - refBefore[i];
            worst = Math.max(worst, Math.abs(d - dr));
            assertTrue(Float.isFinite(after[i]), what + ": non-finite");
            if (Math.abs(refGrad[i]) >= 1e-2 * maxG) {
                diff += (d - dr) * (d - dr);
                norm += dr * dr;
            }
        }
        double rel = norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
        assertTrue(rel <= 1e-3, what + ": rel_l2 of the update " + rel);
        assertTrue(worst <= 2.5 * LR, what + ": max |d - d_ref| " + worst);
    }

    static void compare(ModelConfig c, int B, int T, int steps) {
        Params init = Initializer.init(c);
        int[] x = TestInputs.tokens(1, B * T, c.vocabSize());
        int[] y = TestInputs.tokens(2, B * T, c.vocabSize());
        AdamW opt = AdamW.of(0.1);
        try (Engine ref = new Engine(c, init, B, T, SessionOptions.DEFAULT, new ReferenceOps());
                Engine jvm = new Engine(c, init, B, T, SessionOptions.DEFAULT, new JvmOps(2))) {
            for (int step = 0; step < steps; step++) {
                String at = c.family() + "/" + c.residual() + "/" + c.nLayer() + "L step " + step + ": ";
                double l1 = ref.forward(x, y);
                double l2 = jvm.forward(x, y);
                assertEquals(l1, l2, TOL_FWD * Math.abs(l1), at + "loss");
                double el = relL2(jvm.logits(), ref.logits());
                assertTrue(el <= TOL_FWD, at + "logits rel_l2 " + el);
                ref.backward();
                jvm.backward();
                // both engines hold the same parameters at every step compared (see the end of the loop), so the
                // gradients are two implementations of the same function at the same point
                double worst = 0;
                for (var t : ref.grads().tensors()) {
                    double e = relL2(jvm.grads().data(t.name()), t.data());
                    worst = Math.max(worst, e);
                    assertTrue(e <= TOL_GRAD, at + "grad " + t.name() + " rel_l2 " + e);
                }
                System.out.printf("%sloss %.3e logits %.3e worst grad rel_l2 %.3e%n", at, Math.abs(l1 - l2) / l1, el,
                        worst);
                double n1 = ref.gradNorm();
                double n2 = jvm.gradNorm();
                assertEquals(n1, n2, TOL_GRAD * n1, at + "grad norm");
                Params refBefore = ref.params().copy();
                Params jvmBefore = jvm.params().copy();
                ref.step(opt, LR, 0.9);
                jvm.step(opt, LR, 0.9);
                for (var t : ref.params().tensors()) {
                    String n = t.name();
                    checkUpdate(at + "update of " + n, jvmBefore.data(n), jvm.params().data(n), refBefore.data(n),
                            t.data(), ref.grads().data(n));
                }
                // An AdamW step moves a parameter by about lr * sign(g) wherever g is tiny, so two correct float32
                // backends whose tiny gradients differ in sign leave the step with slightly different parameters, and
                // comparing the next step would compare two trajectories. The updates were judged above by the
                // test-vector rule; now the reference continues from the jvm's parameters and optimizer state.
                ref.restore(jvm.params(), jvm.optimizerState());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Residual.class)
    void gpt2EveryResidualScheme(Residual r) {
        compare(gpt2(r, 2), 2, 13, 3);
    }

    @Test
    void llamaGqaRopeSwiglu() {
        compare(llama(), 2, 13, 3);
    }

    @Test
    void deep128Layers() {
        ModelConfig c = new ModelConfig(Family.GPT2, 128, 32, 4, 4, 8, 128, 37, 16, Norm.LAYERNORM, 1e-5,
                Activation.GELU_TANH, Positions.LEARNED, 10000, true, Residual.PRE, 5);
        compare(c, 1, 8, 2);
    }
}
