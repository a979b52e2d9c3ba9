package io.resflow.reference;

import io.resflow.engine.Precision;

/**
 * Linear layer: out = inp W^T + b, W stored (OC, C) like nn.Linear.
 * Backward: dinp = dout W, dW = dout^T inp, db = sum over rows of dout.
 * In bf16 ({@link Precision}) W and b are read as bf16(W), bf16(b); the other operands arrive rounded.
 */
public final class Matmul {
    private Matmul() {
    }

    // inp (N,C), weight (OC,C), bias (OC) or null -> out (N,OC)
    public static void forward(float[] out, float[] inp, float[] weight, float[] bias, int N, int C, int OC) {
        forward(out, inp, weight, bias, N, C, OC, Precision.FP32);
    }

    // inp (N,C), weight (OC,C), bias (OC) or null -> out (N,OC), weight and bias read in precision p
    public static void forward(float[] out, float[] inp, float[] weight, float[] bias, int N, int C, int OC,
            Precision p) {
        for (int n = 0; n < N; n++) {
            for (int o = 0; o < OC; o++) {
                double acc = bias == null ? 0.0 : p.round(bias[o]);
                for (int i = 0; i < C; i++) {
                    acc += (double) inp[n * C + i] * p.round(weight[o * C + i]);
                }
                out[n * OC + o] = (float) acc;
            }
        }
    }

    // dout (N,OC) -> dinp (N,C) +=, dweight (OC,C) +=, dbias (OC) +=
    public static void backward(float[] dinp, float[] dweight, float[] dbias, float[] dout, float[] inp,
            float[] weight, int N, int C, int OC) {
        backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC, Precision.FP32);
    }

    // as above, weight read in precision p
    public static void backward(float[] dinp, float[] dweight, float[] dbias, float[] dout, float[] inp,
            float[] weight, int N, int C, int OC, Precision p) {
        if (dinp != null) {
            for (int n = 0; n < N; n++) {
                for (int i = 0; i < C; i++) {
                    double acc = 0;
                    for (int o = 0; o < OC; o++) {
                        acc += (double) dout[n * OC + o] * p.round(weight[o * C + i]);
                    }
                    dinp[n * C + i] += (float) acc;
                }
            }
        }
        if (dweight != null) {
            for (int o = 0; o < OC; o++) {
                for (int i = 0; i < C; i++) {
                    double acc = 0;
                    for (int n = 0; n < N; n++) {
                        acc += (double) dout[n * OC + o] * inp[n * C + i];
                    }
                    dweight[o * C + i] += (float) acc;
                }
            }
        }
        if (dbias != null) {
            for (int o = 0; o < OC; o++) {
                double acc = 0;
                for (int n = 0; n < N; n++) {
                    acc += dout[n * OC + o];
                }
                dbias[o] += (float) acc;
            }
        }
    }
}
