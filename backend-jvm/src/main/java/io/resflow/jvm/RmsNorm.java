package io.resflow.jvm;

/**
 * RMSNorm, out = inp / sqrt(mean(inp^2) + eps) * w (the jvm kernels of {@link io.resflow.reference.RmsNorm}).
 * It is LayerNorm without the mean and the bias, so it runs {@link LayerNorm}'s kernels with their mean terms off
 * (one copy of the vector code to keep tuned, and both norms compile from the same hot methods).
 */
final class RmsNorm {
    private final LayerNorm kernels;

    RmsNorm(LayerNorm kernels) {
        this.kernels = kernels;
    }

    // inp (N,C), w (C) -> out (N,C), rstd (N)
    void forward(float[] out, float[] rstd, float[] inp, float[] w, int N, int C, float eps) {
        kernels.forward(false, out, null, rstd, inp, w, null, N, C, eps);
    }

    // dout (N,C) -> dinp (N,C) +=, dw (C) += (either may be null); add false stores instead
    void backward(float[] dinp, float[] dw, float[] dout, float[] inp, float[] w, float[] rstd, int N, int C,
            boolean add) {
        kernels.backward(false, dinp, dw, null, dout, inp, w, null, rstd, N, C, add);
    }
}
