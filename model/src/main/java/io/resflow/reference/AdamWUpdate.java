package io.resflow.reference;

/**
 * AdamW, bias-corrected, decoupled weight decay, step t from 1:
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + wd p).
 * The gradient is first multiplied by gradScale (global-norm clipping).
 */
public final class AdamWUpdate {
    private AdamWUpdate() {
    }

    // p, g, m, v (n)
    public static void step(float[] p, float[] g, float[] m, float[] v, int n, float lr, float b1, float b2,
            float eps, float wd, int t, float gradScale) {
        double c1 = 1.0 - Math.pow(b1, t);
        double c2 = 1.0 - Math.pow(b2, t);
        for (int i = 0; i < n; i++) {
            double grad = (double) g[i] * gradScale;
            double mi = b1 * (double) m[i] + (1.0 - b1) * grad;
            double vi = b2 * (double) v[i] + (1.0 - b2) * grad * grad;
            m[i] = (float) mi;
            v[i] = (float) vi;
            double update = (mi / c1) / (Math.sqrt(vi / c2) + eps) + (double) wd * p[i];
            p[i] = (float) (p[i] - (double) lr * update);
        }
    }
}
