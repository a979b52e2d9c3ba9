package io.resflow.reference;

/** Token embedding plus (optionally) learned position embedding: out[b,t] = wte[token[b,t]] + wpe[t]. */
public final class Embedding {
    private Embedding() {
    }

    // tokens (B,T), wte (V,C), wpe (P,C) or null -> out (B,T,C)
    public static void forward(float[] out, int[] tokens, float[] wte, float[] wpe, int B, int T, int C) {
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                int row = (b * T + t) * C;
                int tok = tokens[b * T + t] * C;
                for (int i = 0; i < C; i++) {
                    double pos = wpe == null ? 0.0 : wpe[t * C + i];
                    out[row + i] = (float) (wte[tok + i] + pos);
                }
            }
        }
    }

    // decoding one sequence: tokens (T) at positions pos0 .. pos0+T-1, wte (V,C), wpe (P,C) or null -> out (T,C)
    public static void forwardAt(float[] out, int[] tokens, float[] wte, float[] wpe, int T, int pos0, int C) {
        for (int t = 0; t < T; t++) {
            int row = t * C;
            int tok = tokens[t] * C;
            for (int i = 0; i < C; i++) {
                double pos = wpe == null ? 0.0 : wpe[(pos0 + t) * C + i];
                out[row + i] = (float) (wte[tok + i] + pos);
            }
        }
    }

    // dout (B,T,C) -> dwte[token] += dout[b,t], dwpe[t] += dout[b,t] (either may be null)
    public static void backward(float[] dwte, float[] dwpe, float[] dout, int[] tokens, int B, int T, int C) {
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                int row = (b * T + t) * C;
                int tok = tokens[b * T + t] * C;
                for (int i = 0; i < C; i++) {
                    if (dwte != null) {
                        dwte[tok + i] += dout[row + i];
                    }
                    if (dwpe != null) {
                        dwpe[t * C + i] += dout[row + i];
                    }
                }
            }
        }
    }
}
