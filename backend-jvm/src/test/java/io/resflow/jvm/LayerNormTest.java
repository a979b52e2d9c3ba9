package io.resflow.jvm;

import io.resflow.engine.Ops;
import org.junit.jupiter.api.Test;

/**
 * {@link LayerNorm} against the reference: C not a multiple of the vector length, a row with a large mean (the
 * one-pass variance must not cancel), with and without bias.
 */
class LayerNormTest extends OpCheck {

    @Test
    void layerNorm() {
        for (int C : new int[] {48, 37, 5, 768}) {
            int N = 37;
            float[] inp = rand(N * C, 2), w = rand(C, 1), b = rand(C, 1), dout = rand(N * C, 1);
            for (int i = 0; i < C; i++) {
                inp[i] += 30f; // a row with a large mean: the one-pass variance must not cancel
            }
            for (Ops ops : jvms()) {
                for (float[] bias : new float[][] {b, null}) {
                    float[] o1 = new float[N * C], m1 = new float[N], r1 = new float[N];
                    float[] o2 = new float[N * C], m2 = new float[N], r2 = new float[N];
                    ref.layerNormForward(o1, m1, r1, inp, w, bias, N, C, 1e-5f);
                    ops.layerNormForward(o2, m2, r2, inp, w, bias, N, C, 1e-5f);
                    close("ln out C=" + C, o2, o1);
                    close("ln mean", m2, m1);
                    close("ln rstd", r2, r1);
                    float[] di1 = rand(N * C, 1), dw1 = rand(C, 1), db1 = bias == null ? null : rand(C, 1);
                    float[] di2 = di1.clone(), dw2 = dw1.clone(), db2 = db1 == null ? null : db1.clone();
                    ref.layerNormBackward(di1, dw1, db1, dout, inp, w, m1, r1, N, C, true);
                    ops.layerNormBackward(di2, dw2, db2, dout, inp, w, m1, r1, N, C, true);
                    close("ln dinp C=" + C, di2, di1);
                    close("ln dw C=" + C, dw2, dw1);
                    if (db1 != null) {
                        close("ln db C=" + C, db2, db1);
                    }
                }
            }
        }
    }
}
