package io.resflow.jvm;

import io.resflow.engine.Ops;
import org.junit.jupiter.api.Test;

/** {@link SwiGlu} against the reference: F not a multiple of the vector length, rows spanning chunk boundaries. */
class SwiGluTest extends OpCheck {

    @Test
    void swiglu() {
        for (int[] sh : new int[][] {{37, 131}, {300, 67}}) {
            int N = sh[0], F = sh[1];
            float[] x = GeluTest.extremes(rand(N * 2 * F, 4)), dout = rand(N * F, 1);
            for (Ops ops : jvms()) {
                float[] o1 = new float[N * F], o2 = new float[N * F];
                ref.swigluForward(o1, x, N, F);
                ops.swigluForward(o2, x, N, F);
                close("swiglu fwd N=" + N + " F=" + F, o2, o1);
                float[] s1 = rand(N * 2 * F, 1), s2 = s1.clone();
                ref.swigluBackward(s1, x, dout, N, F, true);
                ops.swigluBackward(s2, x, dout, N, F, true);
                close("swiglu bwd N=" + N + " F=" + F, s2, s1);
            }
        }
    }
}
