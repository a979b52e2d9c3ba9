package io.resflow.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.resflow.engine.Ops;
import org.junit.jupiter.api.Test;

/**
 * {@link CrossEntropy} against the reference, with a dominant logit.
 */
class CrossEntropyTest extends OpCheck {

    @Test
    void crossEntropy() {
        int N = 37, V = 259;
        float[] logits = rand(N * V, 5);
        logits[3] = 80f; // a dominant logit
        int[] tg = tokens(N, V);
        float[] l1 = new float[N], p1 = new float[N * V];
        double loss1 = ref.crossEntropyForward(l1, p1, logits, tg, N, V);
        float[] g1 = rand(N * V, 0.01);
        float[] g0 = g1.clone();
        ref.crossEntropyBackward(g1, p1, tg, N, V, true);
        for (Ops ops : jvms()) {
            float[] l2 = new float[N], p2 = new float[N * V];
            double loss2 = ops.crossEntropyForward(l2, p2, logits, tg, N, V);
            assertEquals(loss1, loss2, 1e-5 * Math.abs(loss1), "mean loss");
            close("ce losses", l2, l1);
            close("ce probs", p2, p1);
            float[] g2 = g0.clone();
            ops.crossEntropyBackward(g2, p1, tg, N, V, true);
            close("ce dlogits", g2, g1);
        }
    }
}
