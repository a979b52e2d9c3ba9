package io.resflow.reference;

/**
 * GELU, tanh approximation: y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).
 * dy/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2).
 */
public final class Gelu {
    private static final double K = Math.sqrt(2.0 / Math.PI);

    private Gelu() {
    }

    // inp (n) -> out (n)
    public static void forward(float[] out, float[] inp, int n) {
        for (int i = 0; i < n; i++) {
            double x = inp[i];
            out[i] = (float) (0.5 * x * (1.0 + Math.tanh(K * (x + 0.044715 * x * x * x))));
        }
    }

    // dout (n) -> dinp (n) +=
    public static void backward(float[] dinp, float[] inp, float[] dout, int n) {
        for (int i = 0; i < n; i++) {
            double x = inp[i];
            double th = Math.tanh(K * (x + 0.044715 * x * x * x));
            double grad = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * K * (1.0 + 3.0 * 0.044715 * x * x);
            dinp[i] += (float) (grad * dout[i]);
        }
    }
}
