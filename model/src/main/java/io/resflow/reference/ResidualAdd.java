package io.resflow.reference;

/**
 * The residual join: out = alpha * skip + gate * branch. Plain pre-norm uses alpha = gate = 1; DeepNet scales the
 * skip by alpha; ReZero learns the gate; "none" has alpha = 0.
 * Backward: dskip += alpha dout (the skip path), dbranch += gate dout (into the block), dgate = sum dout * branch.
 */
public final class ResidualAdd {
    private ResidualAdd() {
    }

    // skip (n), branch (n) -> out (n)
    public static void forward(float[] out, float[] skip, float alpha, float[] branch, float gate, int n) {
        for (int i = 0; i < n; i++) {
            out[i] = (float) ((double) alpha * skip[i] + (double) gate * branch[i]);
        }
    }

    // dout (n) -> dskip (n) +=, dbranch (n) +=; returns dgate
    public static double backward(float[] dskip, float[] dbranch, float[] dout, float alpha, float[] branch,
            float gate, int n) {
        double dgate = 0;
        for (int i = 0; i < n; i++) {
            if (dskip != null) {
                dskip[i] += (float) ((double) alpha * dout[i]);
            }
            if (dbranch != null) {
                dbranch[i] += (float) ((double) gate * dout[i]);
            }
            dgate += (double) dout[i] * branch[i];
        }
        return dgate;
    }
}
