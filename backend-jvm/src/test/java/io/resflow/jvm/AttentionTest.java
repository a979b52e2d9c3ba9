package io.resflow.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.resflow.engine.Ops;
import org.junit.jupiter.api.Test;

/**
 * {@link Attention} forward and backward against the reference: MHA with odd T, GQA, one kv head, long T (several
 * key and query blocks), wide heads.
 */
class AttentionTest extends OpCheck {

    @Test
    void attention() {
        // {B, T, nh, nkv, hd}: MHA with odd T, GQA, one kv head, long T (several key and query blocks), wide heads, GQA
        // with heads of whole register panels
        int[][] shapes = {{2, 13, 3, 3, 12}, {2, 13, 4, 2, 12}, {1, 7, 4, 1, 5}, {1, 150, 2, 1, 12}, {2, 70, 2, 2, 64},
                {1, 9, 2, 2, 80}, {2, 40, 4, 2, 64}};
        for (int[] sh : shapes) {
            int B = sh[0], T = sh[1], nh = sh[2], nkv = sh[3], hd = sh[4];
            String tag = " B=" + B + " T=" + T + " nh=" + nh + " nkv=" + nkv + " hd=" + hd;
            int W = (nh + 2 * nkv) * hd;
            float[] qkv = rand(B * T * W, 2), dout = rand(B * T * nh * hd, 1);
            float[] o1 = new float[B * T * nh * hd];
            float[] st1 = new float[(int) ref.attentionStateSize(B, T, nh)];
            ref.attentionForward(o1, st1, qkv, B, T, nh, nkv, hd);
            float[] dq1 = rand(B * T * W, 1);
            float[] dq0 = dq1.clone();
            ref.attentionBackward(dq1, dout, qkv, o1, st1, B, T, nh, nkv, hd, true);
            for (Ops ops : jvms()) {
                float[] o2 = new float[B * T * nh * hd];
                float[] st2 = new float[(int) ops.attentionStateSize(B, T, nh)];
                long lse = (long) B * nh * T;
                assertEquals(T <= Attention.KEEP_P_MAX_T ? lse * (T + 1) + Attention.P_PAD : lse,
                        ops.attentionStateSize(B, T, nh),
                        "state: the log-sum-exp, and the probabilities (plus padding) for short sequences");
                java.util.Arrays.fill(st2, Float.NaN); // the forward must write all the backward reads
                ops.attentionForward(o2, st2, qkv, B, T, nh, nkv, hd);
                close("attention fwd" + tag, o2, o1);
                float[] dq2 = dq0.clone();
                ops.attentionBackward(dq2, dout, qkv, o2, st2, B, T, nh, nkv, hd, true);
                close("attention bwd" + tag, dq2, dq1);
            }
        }
    }
}
