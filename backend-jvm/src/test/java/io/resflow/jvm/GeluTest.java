package io.resflow.jvm;

import io.resflow.engine.Ops;
import org.junit.jupiter.api.Test;

/** {@link Gelu} against the reference: saturated and zero inputs, and a size spanning several chunks. */
class GeluTest extends OpCheck {

    @Test
    void gelu() {
        int n = 37 * 131;
        float[] x = extremes(rand(n, 4)), dout = rand(n, 1);
        for (Ops ops : jvms()) {
            float[] o1 = new float[n], o2 = new float[n];
            ref.geluForward(o1, x, n);
            ops.geluForward(o2, x, n);
            close("gelu fwd", o2, o1);
            float[] d1 = rand(n, 1), d2 = d1.clone();
            ref.geluBackward(d1, x, dout, n, true);
            ops.geluBackward(d2, x, dout, n, true);
            close("gelu bwd", d2, d1);
        }
    }

    @Test
    void severalChunks() {
        int n = 3 * JvmOps.CHUNK + 17;
        float[] big = rand(n, 3), bd = rand(n, 1);
        float[] o1 = new float[n], o2 = new float[n];
        ref.geluForward(o1, big, n);
        new JvmOps(2).geluForward(o2, big, n);
        close("gelu fwd (chunks)", o2, o1);
        float[] d1 = rand(n, 1), d2 = d1.clone();
        ref.geluBackward(d1, big, bd, n, true);
        new JvmOps(2).geluBackward(d2, big, bd, n, true);
        close("gelu bwd (chunks)", d2, d1);
    }

    /** Saturated inputs (exp over- and underflow in the sigmoid) and zero. */
    static float[] extremes(float[] x) {
        x[0] = 12f;
        x[1] = -12f;
        x[2] = 95f;
        x[3] = -95f;
        x[4] = 0f;
        return x;
    }
}
