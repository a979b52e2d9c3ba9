package io.resflow.jvm;

import io.resflow.engine.Ops;
import org.junit.jupiter.api.Test;

/**
 * {@link RmsNorm} against the reference.
 */
class RmsNormTest extends OpCheck {

    @Test
    void rmsNorm() {
        for (int C : new int[] {48, 37, 5}) {
            int N = 37;
            float[] inp = rand(N * C, 2), w = rand(C, 1), dout = rand(N * C, 1);
            for (Ops ops : jvms()) {
                float[] o1 = new float[N * C], r1 = new float[N];
                float[] o2 = new float[N * C], r2 = new float[N];
                ref.rmsNormForward(o1, r1, inp, w, N, C, 1e-5f);
                ops.rmsNormForward(o2, r2, inp, w, N, C, 1e-5f);
                close("rms out", o2, o1);
                close("rms rstd", r2, r1);
                float[] di1 = rand(N * C, 1), dw1 = rand(C, 1);
                float[] di2 = di1.clone(), dw2 = dw1.clone();
                ref.rmsNormBackward(di1, dw1, dout, inp, w, r1, N, C, true);
                ops.rmsNormBackward(di2, dw2, dout, inp, w, r1, N, C, true);
                close("rms dinp", di2, di1);
                close("rms dw", dw2, dw1);
            }
        }
    }
}
