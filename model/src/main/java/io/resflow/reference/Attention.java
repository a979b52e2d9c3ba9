package io.resflow.reference;

/**
 * Causal multi-head attention with grouped-query heads: query head h reads kv head h / (nh / nkv).
 * out[t] = sum_{s <= t} p[t,s] v[s], p[t,:] = softmax_s(q[t] . k[s] / sqrt(hd)).
 * Backward: dv[s] += p[t,s] dout[t]; dp[t,s] = dout[t] . v[s]; ds = p (dp - sum_s p dp);
 * dq[t] += ds[t,s] k[s] / sqrt(hd); dk[s] += ds[t,s] q[t] / sqrt(hd).
 * The reference keeps the full probability matrix p (B,nh,T,T) as its state.
 *
 * <p>Decoding ({@link #decode}): one sequence with a KV cache. The new rows' k and v are written into the cache at
 * their positions, then each new row attends to every cached position up to its own, exactly as the full forward's
 * row at that position does (same order of operations).
 */
public final class Attention {
    private Attention() {
    }

    public static long stateSize(int B, int T, int nh) {
        return (long) B * nh * T * T;
    }

    // qkv (B,T,(nh+2 nkv) hd) -> out (B,T,nh hd), probs (B,nh,T,T)
    public static void forward(float[] out, float[] probs, float[] qkv, int B, int T, int nh, int nkv, int hd) {
        int width = (nh + 2 * nkv) * hd;
        int kOff = nh * hd;
        int vOff = kOff + nkv * hd;
        int group = nh / nkv;
        double scale = 1.0 / Math.sqrt(hd);
        double[] score = new double[T];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < nh; h++) {
                int kvh = h / group;
                for (int t = 0; t < T; t++) {
                    int q = (b * T + t) * width + h * hd;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int s = 0; s <= t; s++) {
                        int k = (b * T + s) * width + kOff + kvh * hd;
                        double dot = 0;
                        for (int i = 0; i < hd; i++) {
                            dot += (double) qkv[q + i] * qkv[k + i];
                        }
                        score[s] = dot * scale;
                        max = Math.max(max, score[s]);
                    }
                    double sum = 0;
                    for (int s = 0; s <= t; s++) {
                        score[s] = Math.exp(score[s] - max);
                        sum += score[s];
                    }
                    int p = ((b * nh + h) * T + t) * T;
                    for (int s = 0; s < T; s++) {
                        probs[p + s] = s <= t ? (float) (score[s] / sum) : 0f;
                    }
                    int o = (b * T + t) * nh * hd + h * hd;
                    for (int i = 0; i < hd; i++) {
                        double acc = 0;
                        for (int s = 0; s <= t; s++) {
                            acc += score[s] / sum * qkv[(b * T + s) * width + vOff + kvh * hd + i];
                        }
                        out[o + i] = (float) acc;
                    }
                }
            }
        }
    }

    // qkv (T,(nh+2 nkv) hd): the rows at positions pos0 .. pos0+T-1; kCache, vCache (cap, nkv hd): rows
    // pos0 .. pos0+T-1 written from qkv's k and v parts -> out (T,nh hd), row t attends to cache rows 0 .. pos0+t
    public static void decode(float[] out, float[] kCache, float[] vCache, float[] qkv, int T, int pos0, int nh,
            int nkv, int hd) {
        int width = (nh + 2 * nkv) * hd;
        int kvw = nkv * hd;
        int kOff = nh * hd;
        int vOff = kOff + kvw;
        for (int t = 0; t < T; t++) {
            System.arraycopy(qkv, t * width + kOff, kCache, (pos0 + t) * kvw, kvw);
            System.arraycopy(qkv, t * width + vOff, vCache, (pos0 + t) * kvw, kvw);
        }
        int group = nh / nkv;
        double scale = 1.0 / Math.sqrt(hd);
        double[] score = new double[pos0 + T];
        for (int h = 0; h < nh; h++) {
            int kvh = h / group;
            for (int t = 0; t < T; t++) {
                int q = t * width + h * hd;
                int last = pos0 + t;
                double max = Double.NEGATIVE_INFINITY;
                for (int s = 0; s <= last; s++) {
                    int k = s * kvw + kvh * hd;
                    double dot = 0;
                    for (int i = 0; i < hd; i++) {
                        dot += (double) qkv[q + i] * kCache[k + i];
                    }
                    score[s] = dot * scale;
                    max = Math.max(max, score[s]);
                }
                double sum = 0;
                for (int s = 0; s <= last; s++) {
                    score[s] = Math.exp(score[s] - max);
                    sum += score[s];
                }
                int o = t * nh * hd + h * hd;
                for (int i = 0; i < hd; i++) {
                    double acc = 0;
                    for (int s = 0; s <= last; s++) {
                        acc += score[s] / sum * vCache[s * kvw + kvh * hd + i];
                    }
                    out[o + i] = (float) acc;
                }
            }
        }
    }

    // dout (B,T,nh hd) -> dqkv (B,T,(nh+2 nkv) hd) +=
    public static void backward(float[] dqkv, float[] dout, float[] qkv, float[] probs, int B, int T, int nh, int nkv,
            int hd) {
        int width = (nh + 2 * nkv) * hd;
        int kOff = nh * hd;
        int vOff = kOff + nkv * hd;
        int group = nh / nkv;
        double scale = 1.0 / Math.sqrt(hd);
        double[] acc = new double[T * width]; // this batch row's dqkv, in double
        double[] dp = new double[T];
        for (int b = 0; b < B; b++) {
            java.util.Arrays.fill(acc, 0.0);
            for (int h = 0; h < nh; h++) {
                int kvh = h / group;
                for (int t = 0; t < T; t++) {
                    int p = ((b * nh + h) * T + t) * T;
                    int o = (b * T + t) * nh * hd + h * hd;
                    double sumPdp = 0;
                    for (int s = 0; s <= t; s++) {
                        int v = (b * T + s) * width + vOff + kvh * hd;
                        double d = 0;
                        for (int i = 0; i < hd; i++) {
                            d += (double) dout[o + i] * qkv[v + i];
                            acc[s * width + vOff + kvh * hd + i] += probs[p + s] * (double) dout[o + i];
                        }
                        dp[s] = d;
                        sumPdp += probs[p + s] * d;
                    }
                    int q = (b * T + t) * width + h * hd;
                    for (int s = 0; s <= t; s++) {
                        double ds = probs[p + s] * (dp[s] - sumPdp) * scale;
                        int k = (b * T + s) * width + kOff + kvh * hd;
                        for (int i = 0; i < hd; i++) {
                            acc[t * width + h * hd + i] += ds * qkv[k + i];
                            acc[s * width + kOff + kvh * hd + i] += ds * qkv[q + i];
                        }
                    }
                }
            }
            int base = b * T * width;
            for (int i = 0; i < T * width; i++) {
                dqkv[base + i] += (float) acc[i];
            }
        }
    }
}
