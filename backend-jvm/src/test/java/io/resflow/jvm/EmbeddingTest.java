package io.resflow.jvm;

import io.resflow.engine.Ops;
import org.junit.jupiter.api.Test;

/**
 * {@link Embedding} against the reference: repeated tokens collide in the scatter, with and without learned
 * positions.
 */
class EmbeddingTest extends OpCheck {

    @Test
    void embedding() {
        int B = 3, T = 13, C = 37, V = 29;
        int[] tok = tokens(B * T, V);
        tok[1] = tok[0]; // repeated tokens collide in the scatter
        float[] wte = rand(V * C, 1), wpe = rand(T * C, 1), dout = rand(B * T * C, 1);
        for (Ops ops : jvms()) {
            for (float[] pe : new float[][] {wpe, null}) {
                float[] o1 = new float[B * T * C], o2 = new float[B * T * C];
                ref.embeddingForward(o1, tok, wte, pe, B, T, C);
                ops.embeddingForward(o2, tok, wte, pe, B, T, C);
                close("embedding fwd", o2, o1);
                float[] dte1 = rand(V * C, 1), dte2 = dte1.clone();
                float[] dpe1 = pe == null ? null : rand(T * C, 1), dpe2 = pe == null ? null : dpe1.clone();
                ref.embeddingBackward(dte1, dpe1, dout, tok, B, T, C, true);
                ops.embeddingBackward(dte2, dpe2, dout, tok, B, T, C, true);
                close("embedding dwte", dte2, dte1);
                if (pe != null) {
                    close("embedding dwpe", dpe2, dpe1);
                }
            }
        }
    }
}
