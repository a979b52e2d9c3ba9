package io.resflow.reference;

/**
 * SwiGLU gate: y = silu(g) * u, silu(g) = g * sigmoid(g); the input row holds g (F values) then u (F values).
 * dg = dy * u * sigmoid(g) (1 + g (1 - sigmoid(g))), du = dy * silu(g).
 */
public final class SwiGlu {
    private SwiGlu() {
    }

    // inp (N,2F) = gate | up -> out (N,F)
    public static void forward(float[] out, float[] inp, int N, int F) {
        for (int n = 0; n < N; n++) {
            for (int i = 0; i < F; i++) {
                double g = inp[n * 2 * F + i];
                double u = inp[n * 2 * F + F + i];
                out[n * F + i] = (float) (g / (1.0 + Math.exp(-g)) * u);
            }
        }
    }

    // dout (N,F) -> dinp (N,2F) +=
    public static void backward(float[] dinp, float[] inp, float[] dout, int N, int F) {
        for (int n = 0; n < N; n++) {
            for (int i = 0; i < F; i++) {
                double g = inp[n * 2 * F + i];
                double u = inp[n * 2 * F + F + i];
                double sig = 1.0 / (1.0 + Math.exp(-g));
                double dy = dout[n * F + i];
                dinp[n * 2 * F + i] += (float) (dy * u * sig * (1.0 + g * (1.0 - sig)));
                dinp[n * 2 * F + F + i] += (float) (dy * g * sig);
            }
        }
    }
}
