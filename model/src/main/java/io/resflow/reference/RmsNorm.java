package io.resflow.reference;

/**
 * RMSNorm over the last dimension: y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps).
 * Backward, with g = dy * w: dx = rstd * (g - x * rstd^2 * mean(g * x)), dw = sum dy * x * rstd.
 */
public final class RmsNorm {
    private RmsNorm() {
    }

    // inp (N,C), w (C) -> out (N,C), rstd (N)
    public static void forward(float[] out, float[] rstd, float[] inp, float[] w, int N, int C, float eps) {
        for (int n = 0; n < N; n++) {
            int row = n * C;
            double ss = 0;
            for (int i = 0; i < C; i++) {
                ss += (double) inp[row + i] * inp[row + i];
            }
            double s = 1.0 / Math.sqrt(ss / C + eps);
            for (int i = 0; i < C; i++) {
                out[row + i] = (float) (inp[row + i] * s * w[i]);
            }
            rstd[n] = (float) s;
        }
    }

    // dout (N,C) -> dinp (N,C) +=, dw (C) +=
    public static void backward(float[] dinp, float[] dw, float[] dout, float[] inp, float[] w, float[] rstd, int N,
            int C) {
        double[] dwAcc = new double[C];
        for (int n = 0; n < N; n++) {
            int row = n * C;
            double s = rstd[n];
            double meanGx = 0;
            for (int i = 0; i < C; i++) {
                double g = (double) dout[row + i] * w[i];
                meanGx += g * inp[row + i];
                dwAcc[i] += dout[row + i] * inp[row + i] * s;
            }
            meanGx /= C;
            if (dinp != null) {
                for (int i = 0; i < C; i++) {
                    double g = (double) dout[row + i] * w[i];
                    dinp[row + i] += (float) (s * (g - inp[row + i] * s * s * meanGx));
                }
            }
        }
        if (dw != null) {
            for (int i = 0; i < C; i++) {
                dw[i] += (float) dwAcc[i];
            }
        }
    }
}
