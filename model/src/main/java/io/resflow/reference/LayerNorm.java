package io.resflow.reference;

/**
 * LayerNorm over the last dimension: y = (x - mean) / sqrt(var + eps) * w + b, var the biased variance.
 * Backward, with xhat = (x - mean) * rstd and g = dy * w:
 * dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), dw = sum dy * xhat, db = sum dy.
 */
public final class LayerNorm {
    private LayerNorm() {
    }

    // inp (N,C), w (C), b (C) or null -> out (N,C), mean (N), rstd (N)
    public static void forward(float[] out, float[] mean, float[] rstd, float[] inp, float[] w, float[] b, int N, int C,
            float eps) {
        for (int n = 0; n < N; n++) {
            int row = n * C;
            double sum = 0;
            for (int i = 0; i < C; i++) {
                sum += inp[row + i];
            }
            double m = sum / C;
            double var = 0;
            for (int i = 0; i < C; i++) {
                double d = inp[row + i] - m;
                var += d * d;
            }
            var /= C;
            double s = 1.0 / Math.sqrt(var + eps);
            for (int i = 0; i < C; i++) {
                double xhat = (inp[row + i] - m) * s;
                out[row + i] = (float) (xhat * w[i] + (b == null ? 0.0 : b[i]));
            }
            mean[n] = (float) m;
            rstd[n] = (float) s;
        }
    }

    // dout (N,C) -> dinp (N,C) +=, dw (C) +=, db (C) += (each may be null)
    public static void backward(float[] dinp, float[] dw, float[] db, float[] dout, float[] inp, float[] w,
            float[] mean, float[] rstd, int N, int C) {
        double[] dwAcc = new double[C];
        double[] dbAcc = new double[C];
        for (int n = 0; n < N; n++) {
            int row = n * C;
            double m = mean[n];
            double s = rstd[n];
            double meanG = 0;
            double meanGx = 0;
            for (int i = 0; i < C; i++) {
                double xhat = (inp[row + i] - m) * s;
                double g = (double) dout[row + i] * w[i];
                meanG += g;
                meanGx += g * xhat;
                dwAcc[i] += dout[row + i] * xhat;
                dbAcc[i] += dout[row + i];
            }
            meanG /= C;
            meanGx /= C;
            if (dinp != null) {
                for (int i = 0; i < C; i++) {
                    double xhat = (inp[row + i] - m) * s;
                    double g = (double) dout[row + i] * w[i];
                    dinp[row + i] += (float) (s * (g - meanG - xhat * meanGx));
                }
            }
        }
        for (int i = 0; i < C; i++) {
            if (dw != null) {
                dw[i] += (float) dwAcc[i];
            }
            if (db != null) {
                db[i] += (float) dbAcc[i];
            }
        }
    }
}
