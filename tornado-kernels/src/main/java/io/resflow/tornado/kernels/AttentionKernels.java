package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Causal multi-head attention with grouped-query heads (query head h reads kv head h / (nh/nkv)) on the fused
 * qkv (B,T,(nh+2 nkv) hd) rows; the probabilities P (B,nh,T,T) are kept for the backward pass, like the reference.
 *
 * <p>The forward runs one work-item per query row (b, h, t): the row of P doubles as its score scratch, so the kernel
 * needs no local array sized by T. The backward is split by what each output sums over, so that every gradient has
 * exactly one writer and no atomics are needed:
 * <ul>
 * <li>{@link #backwardQuery}, one work-item per query row: dS[t,s] = P (dout[t].v[s] - sum_s P dout[t].v[s]) scale,
 * kept in a scratch (B,nh,T,T), and dq[t] = sum_s dS[t,s] k[s];</li>
 * <li>{@link #backwardKeyValue}, one work-item per (b, kv head, s, channel): dk[s] = sum over the group's heads and
 * t >= s of dS[t,s] q[t], dv[s] = sum of P[t,s] dout[t].</li>
 * </ul>
 * All three write (=) their part of dqkv.
 */
public final class AttentionKernels {
    public static final int OUT = 0, PROBS = 1, QKV = 2, ASTRIDE = 3, B = 4, T = 5, NH = 6, NKV = 7, HD = 8, DS = 9,
            DQKV = 10;

    private AttentionKernels() {
    }

    // act: qkv (B,T,(nh+2nkv) hd) -> att (B,T,nh hd) at OUT, P (B,nh,T,T) at PROBS. Launch: B*nh*T work-items.
    public static void forward(KernelContext ctx, FloatArray act, FloatArray consts, IntArray layer, IntArray m) {
        int bs = m.get(B);
        int ts = m.get(T);
        int nh = m.get(NH);
        int idx = ctx.globalIdx;
        if (idx < bs * nh * ts) {
            int nkv = m.get(NKV);
            int hd = m.get(HD);
            int t = idx % ts;
            int h = (idx / ts) % nh;
            int b = idx / (ts * nh);
            int aOff = layer.get(0) * m.get(ASTRIDE);
            int width = (nh + 2 * nkv) * hd;
            int kvh = h / (nh / nkv);
            int qkv = m.get(QKV) + aOff + b * ts * width;
            int q = qkv + t * width + h * hd;
            int k = qkv + nh * hd + kvh * hd;
            int v = qkv + (nh + nkv) * hd + kvh * hd;
            int prow = m.get(PROBS) + aOff + idx * ts;
            float scale = consts.get(Consts.ATTN_SCALE);
            float max = -Float.MAX_VALUE;
            for (int s = 0; s <= t; s++) {
                float dot = 0f;
                for (int i = 0; i < hd; i++) {
                    dot += act.get(q + i) * act.get(k + s * width + i);
                }
                float sc = dot * scale;
                act.set(prow + s, sc);
                max = TornadoMath.max(max, sc);
            }
            float sum = 0f;
            for (int s = 0; s <= t; s++) {
                float e = TornadoMath.exp(act.get(prow + s) - max);
                act.set(prow + s, e);
                sum += e;
            }
            float inv = 1f / sum;
            for (int s = 0; s < ts; s++) {
                act.set(prow + s, s <= t ? act.get(prow + s) * inv : 0f);
            }
            int out = m.get(OUT) + aOff + (b * ts + t) * nh * hd + h * hd;
            for (int i = 0; i < hd; i++) {
                float acc = 0f;
                for (int s = 0; s <= t; s++) {
                    acc += act.get(prow + s) * act.get(v + s * width + i);
                }
                act.set(out + i, acc);
            }
        }
    }

    // dact: datt (B,T,nh hd) at OUT -> dS (B,nh,T,T) at DS, dq part of dqkv at DQKV (=). Launch: B*nh*T work-items.
    public static void backwardQuery(KernelContext ctx, FloatArray dact, FloatArray act, FloatArray consts,
            IntArray layer, IntArray m) {
        int bs = m.get(B);
        int ts = m.get(T);
        int nh = m.get(NH);
        int idx = ctx.globalIdx;
        if (idx < bs * nh * ts) {
            int nkv = m.get(NKV);
            int hd = m.get(HD);
            int t = idx % ts;
            int h = (idx / ts) % nh;
            int b = idx / (ts * nh);
            int aOff = layer.get(0) * m.get(ASTRIDE);
            int width = (nh + 2 * nkv) * hd;
            int kvh = h / (nh / nkv);
            int qkv = m.get(QKV) + aOff + b * ts * width;
            int k = qkv + nh * hd + kvh * hd;
            int v = qkv + (nh + nkv) * hd + kvh * hd;
            int prow = m.get(PROBS) + aOff + idx * ts;
            int dsrow = m.get(DS) + idx * ts;
            int dout = m.get(OUT) + (b * ts + t) * nh * hd + h * hd;
            float scale = consts.get(Consts.ATTN_SCALE);
            float sumPdp = 0f;
            for (int s = 0; s <= t; s++) {
                float dp = 0f;
                for (int i = 0; i < hd; i++) {
                    dp += dact.get(dout + i) * act.get(v + s * width + i);
                }
                dact.set(dsrow + s, dp);
                sumPdp += act.get(prow + s) * dp;
            }
            for (int s = 0; s < ts; s++) {
                float ds = 0f;
                if (s <= t) {
                    ds = act.get(prow + s) * (dact.get(dsrow + s) - sumPdp) * scale;
                }
                dact.set(dsrow + s, ds);
            }
            int dq = m.get(DQKV) + (b * ts + t) * width + h * hd;
            for (int i = 0; i < hd; i++) {
                float acc = 0f;
                for (int s = 0; s <= t; s++) {
                    acc += dact.get(dsrow + s) * act.get(k + s * width + i);
                }
                dact.set(dq + i, acc);
            }
        }
    }

    // dact: dS, datt -> dk, dv parts of dqkv at DQKV (=). Launch: B*nkv*T*hd work-items, after backwardQuery.
    public static void backwardKeyValue(KernelContext ctx, FloatArray dact, FloatArray act, IntArray layer,
            IntArray m) {
        int bs = m.get(B);
        int ts = m.get(T);
        int nkv = m.get(NKV);
        int hd = m.get(HD);
        int idx = ctx.globalIdx;
        if (idx < bs * nkv * ts * hd) {
            int nh = m.get(NH);
            int i = idx % hd;
            int s = (idx / hd) % ts;
            int kvh = (idx / (hd * ts)) % nkv;
            int b = idx / (hd * ts * nkv);
            int group = nh / nkv;
            int aOff = layer.get(0) * m.get(ASTRIDE);
            int width = (nh + 2 * nkv) * hd;
            int qkv = m.get(QKV) + aOff + b * ts * width;
            int probs = m.get(PROBS) + aOff;
            int dsBase = m.get(DS);
            int dout = m.get(OUT) + b * ts * nh * hd;
            float dk = 0f;
            float dv = 0f;
            for (int hh = 0; hh < group; hh++) {
                int h = kvh * group + hh;
                int rows = (b * nh + h) * ts;
                for (int t = s; t < ts; t++) {
                    int e = (rows + t) * ts + s;
                    dk += dact.get(dsBase + e) * act.get(qkv + t * width + h * hd + i);
                    dv += act.get(probs + e) * dact.get(dout + t * nh * hd + h * hd + i);
                }
            }
            int row = m.get(DQKV) + (b * ts + s) * width;
            dact.set(row + nh * hd + kvh * hd + i, dk);
            dact.set(row + (nh + nkv) * hd + kvh * hd + i, dv);
        }
    }
}
