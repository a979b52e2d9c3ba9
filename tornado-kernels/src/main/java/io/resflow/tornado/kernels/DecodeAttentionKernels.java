package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Attention of one new row over a KV cache kept on the device (decoding; the device twin of
 * {@code io.resflow.reference.Attention.decode}). The cache array {@code kv} holds, for layer l,
 * K (cap, nkv hd) at {@code K + l * LSTRIDE} and V (cap, nkv hd) at {@code VC + l * LSTRIDE}, then one score row
 * (nh, cap) at {@code S} shared by the layers. The position p of the new row is {@code step[1]}. Four launches:
 * <pre>
 * store   k, v of the new qkv row into cache row p              2 nkv hd work-items
 * scores  s[h, j] = q_h . k[j] * scale for j <= p               nh * cap work-items
 * softmax s[h, :p] = exp(s - max) / sum (one row per item)      nh work-items
 * output  att[h, i] = sum_{j <= p} s[h, j] v[j, i]              nh * hd work-items
 * </pre>
 * in the same order of operations as {@link AttentionKernels#forward}'s row p, so the values match the full forward's.
 */
public final class DecodeAttentionKernels {
    public static final int QKV = 0, ATT = 1, ASTRIDE = 2, K = 3, VC = 4, LSTRIDE = 5, S = 6, CAP = 7, NH = 8,
            NKV = 9, HD = 10;

    private DecodeAttentionKernels() {
    }

    // act: qkv row (nh+2nkv) hd -> kv: K[p], V[p]. Launch: 2 nkv hd work-items.
    public static void store(KernelContext ctx, FloatArray act, FloatArray kv, IntArray layer, IntArray step,
            IntArray m) {
        int kvw = m.get(NKV) * m.get(HD);
        int idx = ctx.globalIdx;
        if (idx < 2 * kvw) {
            int l = layer.get(0);
            int p = step.get(1);
            float x = act.get(m.get(QKV) + l * m.get(ASTRIDE) + m.get(NH) * m.get(HD) + idx);
            if (idx < kvw) {
                kv.set(m.get(K) + l * m.get(LSTRIDE) + p * kvw + idx, x);
            } else {
                kv.set(m.get(VC) + l * m.get(LSTRIDE) + p * kvw + idx - kvw, x);
            }
        }
    }

    // act: q of the qkv row, kv: K -> kv: S (nh, cap), j <= p. Launch: nh * cap work-items.
    public static void scores(KernelContext ctx, FloatArray act, FloatArray kv, FloatArray consts, IntArray layer,
            IntArray step, IntArray m) {
        int cap = m.get(CAP);
        int nh = m.get(NH);
        int idx = ctx.globalIdx;
        if (idx < nh * cap) {
            int h = idx / cap;
            int j = idx % cap;
            if (j <= step.get(1)) {
                int hd = m.get(HD);
                int nkv = m.get(NKV);
                int l = layer.get(0);
                int kvh = h / (nh / nkv);
                int q = m.get(QKV) + l * m.get(ASTRIDE) + h * hd;
                int k = m.get(K) + l * m.get(LSTRIDE) + j * nkv * hd + kvh * hd;
                float dot = 0f;
                for (int i = 0; i < hd; i++) {
                    dot += act.get(q + i) * kv.get(k + i);
                }
                kv.set(m.get(S) + idx, dot * consts.get(Consts.ATTN_SCALE));
            }
        }
    }

    // kv: S rows 0 .. p -> probabilities, in place. Launch: nh work-items.
    public static void softmax(KernelContext ctx, FloatArray kv, IntArray step, IntArray m) {
        int h = ctx.globalIdx;
        if (h < m.get(NH)) {
            int p = step.get(1);
            int row = m.get(S) + h * m.get(CAP);
            float max = -Float.MAX_VALUE;
            for (int j = 0; j <= p; j++) {
                max = TornadoMath.max(max, kv.get(row + j));
            }
            float sum = 0f;
            for (int j = 0; j <= p; j++) {
                float e = TornadoMath.exp(kv.get(row + j) - max);
                kv.set(row + j, e);
                sum += e;
            }
            float inv = 1f / sum;
            for (int j = 0; j <= p; j++) {
                kv.set(row + j, kv.get(row + j) * inv);
            }
        }
    }

    // kv: S, V -> act: att row (nh hd). Launch: nh * hd work-items.
    public static void output(KernelContext ctx, FloatArray act, FloatArray kv, IntArray layer, IntArray step,
            IntArray m) {
        int hd = m.get(HD);
        int nh = m.get(NH);
        int idx = ctx.globalIdx;
        if (idx < nh * hd) {
            int h = idx / hd;
            int i = idx % hd;
            int nkv = m.get(NKV);
            int l = layer.get(0);
            int kvh = h / (nh / nkv);
            int p = step.get(1);
            int row = m.get(S) + h * m.get(CAP);
            int v = m.get(VC) + l * m.get(LSTRIDE) + kvh * hd + i;
            float acc = 0f;
            for (int j = 0; j <= p; j++) {
                acc += kv.get(row + j) * kv.get(v + j * nkv * hd);
            }
            act.set(m.get(ATT) + l * m.get(ASTRIDE) + h * hd + i, acc);
        }
    }
}
