package io.resflow.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.resflow.engine.Ops;
import org.junit.jupiter.api.Test;

/**
 * {@link AdamWUpdate}: three AdamW steps with clipping, and the sum of squares, against the reference, over several
 * chunks.
 */
class AdamWUpdateTest extends OpCheck {

    @Test
    void adamwAndSumSquares() {
        int n = 2 * JvmOps.CHUNK + 77;
        float[] p = rand(n, 1), g = rand(n, 0.1), m = rand(n, 0.01), v = rand(n, 0.001);
        for (int i = 0; i < n; i++) {
            v[i] = Math.abs(v[i]);
        }
        for (Ops ops : jvms()) {
            float[] p1 = p.clone(), m1 = m.clone(), v1 = v.clone();
            float[] p2 = p.clone(), m2 = m.clone(), v2 = v.clone();
            for (int t = 1; t <= 3; t++) {
                ref.adamw(p1, g, m1, v1, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, t, 0.7f);
                ops.adamw(p2, g, m2, v2, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, t, 0.7f);
            }
            close("adamw p", p2, p1);
            close("adamw m", m2, m1);
            close("adamw v", v2, v1);
            double s1 = ref.sumSquares(g, n);
            double s2 = ops.sumSquares(g, n);
            assertEquals(s1, s2, 1e-6 * s1, "sumSquares");
            assertEquals(ref.sumSquares(g, 5), ops.sumSquares(g, 5), 1e-6 * ref.sumSquares(g, 5), "sumSquares n=5");
        }
    }
}
