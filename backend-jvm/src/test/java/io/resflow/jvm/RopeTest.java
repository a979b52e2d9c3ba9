package io.resflow.jvm;

import io.resflow.engine.Ops;
import org.junit.jupiter.api.Test;

/**
 * {@link Rope} against the reference: head sizes 12, 64, 6, GQA layout, two thetas.
 */
class RopeTest extends OpCheck {

    @Test
    void rope() {
        int B = 2, T = 13, nh = 4, nkv = 2;
        for (int hd : new int[] {12, 64, 6}) {
            int W = (nh + 2 * nkv) * hd;
            float[] x = rand(B * T * W, 1);
            for (Ops ops : jvms()) {
                float[] a = x.clone(), c = x.clone();
                ref.ropeForward(a, B, T, nh, nkv, hd, 10000);
                ops.ropeForward(c, B, T, nh, nkv, hd, 10000);
                close("rope fwd hd=" + hd, c, a);
                ref.ropeBackward(a, B, T, nh, nkv, hd, 500000);
                ops.ropeBackward(c, B, T, nh, nkv, hd, 500000);
                close("rope bwd hd=" + hd, c, a);
            }
        }
    }
}
