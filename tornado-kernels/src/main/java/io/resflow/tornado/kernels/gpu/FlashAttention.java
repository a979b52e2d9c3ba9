package io.resflow.tornado.kernels.gpu;

import io.resflow.tornado.kernels.Consts;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Causal multi-head attention with grouped-query heads (query head h reads kv head h / (nh / nkv)), GPU-shaped like
 * flash attention: tiles of queries and keys in local memory, the softmax kept online, and no B x nh x T x T tensor
 * anywhere. The forward keeps only the log-sum-exp of each query row (B, nh, T) for the backward, which recomputes
 * the probabilities tile by tile.
 *
 * <p>Plain-Java meaning (what {@link Plain} computes), qkv rows (B,T,(nh + 2 nkv) hd), scale = 1 / sqrt(hd):
 * <pre>
 * forward:   S[t,s] = scale q[t].k[s] for s &lt;= t;  lse[t] = log sum_s exp S[t,s];  P = exp(S - lse)
 *            out[t] = sum_s P[t,s] v[s]
 * delta:     D[t] = dout[t].out[t]
 * query:     dS[t,s] = P[t,s] (dout[t].v[s] - D[t]) scale;   dq[t] = sum_s dS[t,s] k[s]
 * key/value: dk[s] = sum over the group's heads and t &gt;= s of dS[t,s] q[t];   dv[s] = sum of P[t,s] dout[t]
 * </pre>
 * Every gradient has exactly one writer (=), so no atomics: {@link #backwardQuery} owns dq, {@link #backwardKeyValue}
 * (one work-group per kv head and key block, looping over the group's query heads) owns dk and dv.
 *
 * <p>Shape: work-groups of {@link #LANES} x R work-items (R rows from the device, at most {@link #ROWS}). In
 * {@link #forward} and {@link #backwardQuery} a group owns R query rows of one (b, h) and walks the key blocks of 16
 * up to its last row (causal); work-item (lane c, row r) scores query r against key c, and for the output owns the
 * channels c, c + 16, ... (at most 8 of them, so hd &lt;= {@link #MAX_HEAD_DIM}) in registers. In
 * {@link #backwardKeyValue} a group owns R keys and walks the query blocks of 16 from its first key. The head size
 * is a scalar task argument (TornadoVM folds it into the kernel), so the local tiles are exactly R x hd. Per
 * work-group and key block: 2 x 16 hd floats loaded (k, v) for 4 R 16 hd FLOPs (forward; 64-wide heads, R = 16: 8 KB
 * for 65.5 kFLOP, 8 FLOP per byte). Rows and keys past T load as 0 and score as masked; no work-item returns early.
 */
public final class FlashAttention {
    /** Keys (forward, query gradient) or queries (key/value gradient) per block: the lanes of a work-group. */
    public static final int LANES = 16;
    /** Most rows of a work-group (the local tiles are sized for it). */
    public static final int ROWS = 16;
    /** Largest head size: 8 register channels per lane. */
    public static final int MAX_HEAD_DIM = 8 * LANES;

    public static final int OUT = 0, LSE = 1, QKV = 2, ASTRIDE = 3, B = 4, T = 5, NH = 6, NKV = 7, HD = 8, DOUT = 9,
            DELTA = 10, DQKV = 11, ARGS = 12;

    private static final float MASKED = -Float.MAX_VALUE;

    private FlashAttention() {
    }

    /**
     * Element e of a tile of hd-wide rows first, first + 1, ... of a (T, stride) slice at {@code at}: row first + e / hd,
     * channel e % hd, or 0 past T. Every kernel loads its q, k, v and dout tiles through it and stores the value into
     * its local tile itself: TornadoVM 5.2 mis-indexes a local array inside a helper (see Reduce).
     */
    private static float tileRow(FloatArray x, int at, int stride, int first, int ts, int hd, int e) {
        int rr = e / hd;
        int t = first + rr;
        return t < ts ? x.get(at + t * stride + (e - rr * hd)) : 0f;
    }

    /** Bytes of local memory the largest of the kernels needs for head size hd. */
    public static long localBytes(int hd) {
        long tiles = 4L * ROWS * hd;
        return 4 * (tiles + 2L * ROWS * LANES + 2L * LANES);
    }

    /**
     * act: qkv at QKV -> out (B,T,nh hd) at OUT, lse (B,nh,T) at LSE. Launch: 2D, x = 16 (one group wide), y =
     * R * B * nh * ceil(T / R) in groups of R.
     */
    public static void forward(KernelContext ctx, FloatArray act, FloatArray consts, IntArray layer, IntArray m,
            int hd) {
        float[] qs = ctx.allocateFloatLocalArray(ROWS * hd);
        float[] ks = ctx.allocateFloatLocalArray(LANES * hd);
        float[] vs = ctx.allocateFloatLocalArray(LANES * hd);
        float[] ss = ctx.allocateFloatLocalArray(ROWS * LANES);
        float[] ps = ctx.allocateFloatLocalArray(ROWS * LANES);
        int c = ctx.localIdx;
        int r = ctx.localIdy;
        int rowsPerGroup = ctx.localGroupSizeY;
        int lid = r * LANES + c;
        int threads = LANES * rowsPerGroup;
        int ts = m.get(T);
        int nh = m.get(NH);
        int nkv = m.get(NKV);
        int blocks = (ts + rowsPerGroup - 1) / rowsPerGroup;
        int gy = ctx.groupIdy;
        int qb = gy % blocks;
        int h = (gy / blocks) % nh;
        int b = gy / (blocks * nh);
        int q0 = qb * rowsPerGroup;
        int t = q0 + r;
        int aOff = layer.get(0) * m.get(ASTRIDE);
        int width = (nh + 2 * nkv) * hd;
        int kvh = h / (nh / nkv);
        int base = m.get(QKV) + aOff + b * ts * width;
        int qAt = base + h * hd;
        int kAt = base + nh * hd + kvh * hd;
        int vAt = base + (nh + nkv) * hd + kvh * hd;
        float scale = consts.get(Consts.ATTN_SCALE);
        for (int e = lid; e < rowsPerGroup * hd; e += threads) {
            qs[e] = tileRow(act, qAt, width, q0, ts, hd, e);
        }
        boolean h1 = c + LANES < hd, h2 = c + 2 * LANES < hd, h3 = c + 3 * LANES < hd, h4 = c + 4 * LANES < hd;
        boolean h5 = c + 5 * LANES < hd, h6 = c + 6 * LANES < hd, h7 = c + 7 * LANES < hd;
        float o0 = 0f, o1 = 0f, o2 = 0f, o3 = 0f, o4 = 0f, o5 = 0f, o6 = 0f, o7 = 0f;
        float mi = MASKED;
        float li = 0f;
        int last = Math.min(q0 + rowsPerGroup, ts) - 1;
        int keyBlocks = last / LANES + 1;
        for (int kb = 0; kb < keyBlocks; kb++) {
            ctx.localBarrier();
            for (int e = lid; e < LANES * hd; e += threads) {
                ks[e] = tileRow(act, kAt, width, kb * LANES, ts, hd, e);
                vs[e] = tileRow(act, vAt, width, kb * LANES, ts, hd, e);
            }
            ctx.localBarrier();
            int s = kb * LANES + c;
            float dot = 0f;
            for (int d = 0; d < hd; d++) {
                dot += qs[r * hd + d] * ks[c * hd + d];
            }
            boolean valid = t < ts && s <= t;
            ss[r * LANES + c] = valid ? dot * scale : MASKED;
            ctx.localBarrier();
            float mb = MASKED;
            for (int jj = 0; jj < LANES; jj++) {
                mb = TornadoMath.max(mb, ss[r * LANES + jj]);
            }
            float mNew = TornadoMath.max(mi, mb);
            ps[r * LANES + c] = valid ? TornadoMath.exp(ss[r * LANES + c] - mNew) : 0f;
            ctx.localBarrier();
            float alpha = TornadoMath.exp(mi - mNew);
            float sum = 0f;
            float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f, a4 = 0f, a5 = 0f, a6 = 0f, a7 = 0f;
            for (int jj = 0; jj < LANES; jj++) {
                float pj = ps[r * LANES + jj];
                int row = jj * hd + c;
                sum += pj;
                a0 += pj * vs[row];
                a1 += h1 ? pj * vs[row + LANES] : 0f;
                a2 += h2 ? pj * vs[row + 2 * LANES] : 0f;
                a3 += h3 ? pj * vs[row + 3 * LANES] : 0f;
                a4 += h4 ? pj * vs[row + 4 * LANES] : 0f;
                a5 += h5 ? pj * vs[row + 5 * LANES] : 0f;
                a6 += h6 ? pj * vs[row + 6 * LANES] : 0f;
                a7 += h7 ? pj * vs[row + 7 * LANES] : 0f;
            }
            li = li * alpha + sum;
            o0 = o0 * alpha + a0;
            o1 = o1 * alpha + a1;
            o2 = o2 * alpha + a2;
            o3 = o3 * alpha + a3;
            o4 = o4 * alpha + a4;
            o5 = o5 * alpha + a5;
            o6 = o6 * alpha + a6;
            o7 = o7 * alpha + a7;
            mi = mNew;
        }
        if (t < ts) {
            float inv = li > 0f ? 1f / li : 0f;
            int out = m.get(OUT) + aOff + (b * ts + t) * nh * hd + h * hd + c;
            if (c < hd) {
                act.set(out, o0 * inv);
            }
            if (h1) {
                act.set(out + LANES, o1 * inv);
            }
            if (h2) {
                act.set(out + 2 * LANES, o2 * inv);
            }
            if (h3) {
                act.set(out + 3 * LANES, o3 * inv);
            }
            if (h4) {
                act.set(out + 4 * LANES, o4 * inv);
            }
            if (h5) {
                act.set(out + 5 * LANES, o5 * inv);
            }
            if (h6) {
                act.set(out + 6 * LANES, o6 * inv);
            }
            if (h7) {
                act.set(out + 7 * LANES, o7 * inv);
            }
            if (c == 0) {
                act.set(m.get(LSE) + aOff + (b * nh + h) * ts + t, mi + TornadoMath.log(li));
            }
        }
    }

    /** dact: D (B,nh,T) at DELTA = rowsum(dout * out), dout at DOUT, out in act at OUT. Launch: B*nh*T work-items. */
    public static void backwardDelta(KernelContext ctx, FloatArray dact, FloatArray act, IntArray layer, IntArray m) {
        int ts = m.get(T);
        int nh = m.get(NH);
        int idx = ctx.globalIdx;
        if (idx < m.get(B) * nh * ts) {
            int hd = m.get(HD);
            int t = idx % ts;
            int h = (idx / ts) % nh;
            int b = idx / (ts * nh);
            int row = (b * ts + t) * nh * hd + h * hd;
            int out = m.get(OUT) + layer.get(0) * m.get(ASTRIDE) + row;
            int dout = m.get(DOUT) + row;
            float s = 0f;
            for (int d = 0; d < hd; d++) {
                s += dact.get(dout + d) * act.get(out + d);
            }
            dact.set(m.get(DELTA) + idx, s);
        }
    }

    /** dact: dq part of dqkv at DQKV (=), from dout, D, and qkv, lse in act. Launch as {@link #forward}. */
    public static void backwardQuery(KernelContext ctx, FloatArray dact, FloatArray act, FloatArray consts,
            IntArray layer, IntArray m, int hd) {
        float[] qs = ctx.allocateFloatLocalArray(ROWS * hd);
        float[] dos = ctx.allocateFloatLocalArray(ROWS * hd);
        float[] ks = ctx.allocateFloatLocalArray(LANES * hd);
        float[] vs = ctx.allocateFloatLocalArray(LANES * hd);
        float[] dss = ctx.allocateFloatLocalArray(ROWS * LANES);
        int c = ctx.localIdx;
        int r = ctx.localIdy;
        int rowsPerGroup = ctx.localGroupSizeY;
        int lid = r * LANES + c;
        int threads = LANES * rowsPerGroup;
        int ts = m.get(T);
        int nh = m.get(NH);
        int nkv = m.get(NKV);
        int blocks = (ts + rowsPerGroup - 1) / rowsPerGroup;
        int gy = ctx.groupIdy;
        int qb = gy % blocks;
        int h = (gy / blocks) % nh;
        int b = gy / (blocks * nh);
        int q0 = qb * rowsPerGroup;
        int t = q0 + r;
        int aOff = layer.get(0) * m.get(ASTRIDE);
        int width = (nh + 2 * nkv) * hd;
        int kvh = h / (nh / nkv);
        int base = m.get(QKV) + aOff + b * ts * width;
        int qAt = base + h * hd;
        int kAt = base + nh * hd + kvh * hd;
        int vAt = base + (nh + nkv) * hd + kvh * hd;
        int doAt = m.get(DOUT) + b * ts * nh * hd + h * hd;
        float scale = consts.get(Consts.ATTN_SCALE);
        for (int e = lid; e < rowsPerGroup * hd; e += threads) {
            qs[e] = tileRow(act, qAt, width, q0, ts, hd, e);
            dos[e] = tileRow(dact, doAt, nh * hd, q0, ts, hd, e);
        }
        int stat = (b * nh + h) * ts + t;
        float lse = t < ts ? act.get(m.get(LSE) + aOff + stat) : 0f;
        float delta = t < ts ? dact.get(m.get(DELTA) + stat) : 0f;
        boolean h1 = c + LANES < hd, h2 = c + 2 * LANES < hd, h3 = c + 3 * LANES < hd, h4 = c + 4 * LANES < hd;
        boolean h5 = c + 5 * LANES < hd, h6 = c + 6 * LANES < hd, h7 = c + 7 * LANES < hd;
        float q0a = 0f, q1a = 0f, q2a = 0f, q3a = 0f, q4a = 0f, q5a = 0f, q6a = 0f, q7a = 0f;
        int last = Math.min(q0 + rowsPerGroup, ts) - 1;
        int keyBlocks = last / LANES + 1;
        for (int kb = 0; kb < keyBlocks; kb++) {
            ctx.localBarrier();
            for (int e = lid; e < LANES * hd; e += threads) {
                ks[e] = tileRow(act, kAt, width, kb * LANES, ts, hd, e);
                vs[e] = tileRow(act, vAt, width, kb * LANES, ts, hd, e);
            }
            ctx.localBarrier();
            int s = kb * LANES + c;
            float dot = 0f;
            float dp = 0f;
            for (int d = 0; d < hd; d++) {
                dot += qs[r * hd + d] * ks[c * hd + d];
                dp += dos[r * hd + d] * vs[c * hd + d];
            }
            boolean valid = t < ts && s <= t;
            float p = valid ? TornadoMath.exp(dot * scale - lse) : 0f;
            dss[r * LANES + c] = p * (dp - delta) * scale;
            ctx.localBarrier();
            for (int jj = 0; jj < LANES; jj++) {
                float ds = dss[r * LANES + jj];
                int row = jj * hd + c;
                q0a += ds * ks[row];
                q1a += h1 ? ds * ks[row + LANES] : 0f;
                q2a += h2 ? ds * ks[row + 2 * LANES] : 0f;
                q3a += h3 ? ds * ks[row + 3 * LANES] : 0f;
                q4a += h4 ? ds * ks[row + 4 * LANES] : 0f;
                q5a += h5 ? ds * ks[row + 5 * LANES] : 0f;
                q6a += h6 ? ds * ks[row + 6 * LANES] : 0f;
                q7a += h7 ? ds * ks[row + 7 * LANES] : 0f;
            }
        }
        if (t < ts) {
            int dq = m.get(DQKV) + (b * ts + t) * width + h * hd + c;
            if (c < hd) {
                dact.set(dq, q0a);
            }
            if (h1) {
                dact.set(dq + LANES, q1a);
            }
            if (h2) {
                dact.set(dq + 2 * LANES, q2a);
            }
            if (h3) {
                dact.set(dq + 3 * LANES, q3a);
            }
            if (h4) {
                dact.set(dq + 4 * LANES, q4a);
            }
            if (h5) {
                dact.set(dq + 5 * LANES, q5a);
            }
            if (h6) {
                dact.set(dq + 6 * LANES, q6a);
            }
            if (h7) {
                dact.set(dq + 7 * LANES, q7a);
            }
        }
    }

    /**
     * dact: dk and dv parts of dqkv at DQKV (=). A group owns R keys of one (b, kv head); work-item (lane c, row r)
     * scores query c of each block against key r, then owns channels c, c + 16, ... of key r's dk and dv. Launch: 2D,
     * x = 16, y = R * B * nkv * ceil(T / R) in groups of R.
     */
    public static void backwardKeyValue(KernelContext ctx, FloatArray dact, FloatArray act, FloatArray consts,
            IntArray layer, IntArray m, int hd) {
        float[] ks = ctx.allocateFloatLocalArray(ROWS * hd);
        float[] vs = ctx.allocateFloatLocalArray(ROWS * hd);
        float[] qs = ctx.allocateFloatLocalArray(LANES * hd);
        float[] dos = ctx.allocateFloatLocalArray(LANES * hd);
        float[] ps = ctx.allocateFloatLocalArray(ROWS * LANES);
        float[] dss = ctx.allocateFloatLocalArray(ROWS * LANES);
        float[] lses = ctx.allocateFloatLocalArray(LANES);
        float[] deltas = ctx.allocateFloatLocalArray(LANES);
        int c = ctx.localIdx;
        int r = ctx.localIdy;
        int rowsPerGroup = ctx.localGroupSizeY;
        int lid = r * LANES + c;
        int threads = LANES * rowsPerGroup;
        int ts = m.get(T);
        int nh = m.get(NH);
        int nkv = m.get(NKV);
        int blocks = (ts + rowsPerGroup - 1) / rowsPerGroup;
        int gy = ctx.groupIdy;
        int kb = gy % blocks;
        int kvh = (gy / blocks) % nkv;
        int b = gy / (blocks * nkv);
        int k0 = kb * rowsPerGroup;
        int s = k0 + r;
        int aOff = layer.get(0) * m.get(ASTRIDE);
        int width = (nh + 2 * nkv) * hd;
        int group = nh / nkv;
        int base = m.get(QKV) + aOff + b * ts * width;
        int kAt = base + nh * hd + kvh * hd;
        int vAt = base + (nh + nkv) * hd + kvh * hd;
        float scale = consts.get(Consts.ATTN_SCALE);
        for (int e = lid; e < rowsPerGroup * hd; e += threads) {
            ks[e] = tileRow(act, kAt, width, k0, ts, hd, e);
            vs[e] = tileRow(act, vAt, width, k0, ts, hd, e);
        }
        boolean h1 = c + LANES < hd, h2 = c + 2 * LANES < hd, h3 = c + 3 * LANES < hd, h4 = c + 4 * LANES < hd;
        boolean h5 = c + 5 * LANES < hd, h6 = c + 6 * LANES < hd, h7 = c + 7 * LANES < hd;
        float k0a = 0f, k1a = 0f, k2a = 0f, k3a = 0f, k4a = 0f, k5a = 0f, k6a = 0f, k7a = 0f;
        float v0a = 0f, v1a = 0f, v2a = 0f, v3a = 0f, v4a = 0f, v5a = 0f, v6a = 0f, v7a = 0f;
        int queryBlocks = (ts + LANES - 1) / LANES;
        for (int hh = 0; hh < group; hh++) {
            int h = kvh * group + hh;
            int qAt = base + h * hd;
            int doAt = m.get(DOUT) + b * ts * nh * hd + h * hd;
            int stat = (b * nh + h) * ts;
            for (int qb = k0 / LANES; qb < queryBlocks; qb++) {
                ctx.localBarrier();
                for (int e = lid; e < LANES * hd; e += threads) {
                    qs[e] = tileRow(act, qAt, width, qb * LANES, ts, hd, e);
                    dos[e] = tileRow(dact, doAt, nh * hd, qb * LANES, ts, hd, e);
                }
                if (lid < LANES) {
                    int tt = qb * LANES + lid;
                    lses[lid] = tt < ts ? act.get(m.get(LSE) + aOff + stat + tt) : 0f;
                    deltas[lid] = tt < ts ? dact.get(m.get(DELTA) + stat + tt) : 0f;
                }
                ctx.localBarrier();
                int t = qb * LANES + c;
                float dot = 0f;
                float dp = 0f;
                for (int d = 0; d < hd; d++) {
                    dot += qs[c * hd + d] * ks[r * hd + d];
                    dp += dos[c * hd + d] * vs[r * hd + d];
                }
                boolean valid = t < ts && s <= t;
                float p = valid ? TornadoMath.exp(dot * scale - lses[c]) : 0f;
                ps[r * LANES + c] = p;
                dss[r * LANES + c] = p * (dp - deltas[c]) * scale;
                ctx.localBarrier();
                for (int cc = 0; cc < LANES; cc++) {
                    float pj = ps[r * LANES + cc];
                    float dj = dss[r * LANES + cc];
                    int row = cc * hd + c;
                    v0a += pj * dos[row];
                    k0a += dj * qs[row];
                    if (h1) {
                        v1a += pj * dos[row + LANES];
                        k1a += dj * qs[row + LANES];
                    }
                    if (h2) {
                        v2a += pj * dos[row + 2 * LANES];
                        k2a += dj * qs[row + 2 * LANES];
                    }
                    if (h3) {
                        v3a += pj * dos[row + 3 * LANES];
                        k3a += dj * qs[row + 3 * LANES];
                    }
                    if (h4) {
                        v4a += pj * dos[row + 4 * LANES];
                        k4a += dj * qs[row + 4 * LANES];
                    }
                    if (h5) {
                        v5a += pj * dos[row + 5 * LANES];
                        k5a += dj * qs[row + 5 * LANES];
                    }
                    if (h6) {
                        v6a += pj * dos[row + 6 * LANES];
                        k6a += dj * qs[row + 6 * LANES];
                    }
                    if (h7) {
                        v7a += pj * dos[row + 7 * LANES];
                        k7a += dj * qs[row + 7 * LANES];
                    }
                }
            }
        }
        if (s < ts) {
            int rowAt = m.get(DQKV) + (b * ts + s) * width;
            int dk = rowAt + nh * hd + kvh * hd + c;
            int dv = rowAt + (nh + nkv) * hd + kvh * hd + c;
            if (c < hd) {
                dact.set(dk, k0a);
                dact.set(dv, v0a);
            }
            if (h1) {
                dact.set(dk + LANES, k1a);
                dact.set(dv + LANES, v1a);
            }
            if (h2) {
                dact.set(dk + 2 * LANES, k2a);
                dact.set(dv + 2 * LANES, v2a);
            }
            if (h3) {
                dact.set(dk + 3 * LANES, k3a);
                dact.set(dv + 3 * LANES, v3a);
            }
            if (h4) {
                dact.set(dk + 4 * LANES, k4a);
                dact.set(dv + 4 * LANES, v4a);
            }
            if (h5) {
                dact.set(dk + 5 * LANES, k5a);
                dact.set(dv + 5 * LANES, v5a);
            }
            if (h6) {
                dact.set(dk + 6 * LANES, k6a);
                dact.set(dv + 6 * LANES, v6a);
            }
            if (h7) {
                dact.set(dk + 7 * LANES, k7a);
                dact.set(dv + 7 * LANES, v7a);
            }
        }
    }

    /**
     * The kernels' meaning in plain Java, on the same arrays and argument layout (not run by the tests: the oracle
     * checks test the kernels themselves).
     */
    public static final class Plain {
        private Plain() {
        }

        /** {@link #forward}. */
        public static void forward(FloatArray act, FloatArray consts, IntArray layer, IntArray m) {
            int bs = m.get(B), ts = m.get(T), nh = m.get(NH), nkv = m.get(NKV), hd = m.get(HD);
            int aOff = layer.get(0) * m.get(ASTRIDE);
            int width = (nh + 2 * nkv) * hd;
            float scale = consts.get(Consts.ATTN_SCALE);
            for (int b = 0; b < bs; b++) {
                for (int h = 0; h < nh; h++) {
                    int kvh = h / (nh / nkv);
                    int base = m.get(QKV) + aOff + b * ts * width;
                    for (int t = 0; t < ts; t++) {
                        float[] sc = new float[t + 1];
                        float max = MASKED;
                        for (int s = 0; s <= t; s++) {
                            float dot = 0f;
                            for (int d = 0; d < hd; d++) {
                                dot += act.get(base + t * width + h * hd + d)
                                        * act.get(base + s * width + (nh + kvh) * hd + d);
                            }
                            sc[s] = dot * scale;
                            max = Math.max(max, sc[s]);
                        }
                        float sum = 0f;
                        for (int s = 0; s <= t; s++) {
                            sum += (float) Math.exp(sc[s] - max);
                        }
                        float lse = max + (float) Math.log(sum);
                        for (int d = 0; d < hd; d++) {
                            float o = 0f;
                            for (int s = 0; s <= t; s++) {
                                o += (float) Math.exp(sc[s] - lse) * act.get(base + s * width + (nh + nkv + kvh) * hd + d);
                            }
                            act.set(m.get(OUT) + aOff + (b * ts + t) * nh * hd + h * hd + d, o);
                        }
                        act.set(m.get(LSE) + aOff + (b * nh + h) * ts + t, lse);
                    }
                }
            }
        }

        /** {@link #backwardDelta}, {@link #backwardQuery} and {@link #backwardKeyValue} together. */
        public static void backward(FloatArray dact, FloatArray act, FloatArray consts, IntArray layer, IntArray m) {
            int bs = m.get(B), ts = m.get(T), nh = m.get(NH), nkv = m.get(NKV), hd = m.get(HD);
            int aOff = layer.get(0) * m.get(ASTRIDE);
            int width = (nh + 2 * nkv) * hd;
            float scale = consts.get(Consts.ATTN_SCALE);
            for (int b = 0; b < bs; b++) {
                int base = m.get(QKV) + aOff + b * ts * width;
                for (int s = 0; s < ts; s++) {
                    for (int d = 0; d < 2 * nkv * hd; d++) {
                        dact.set(m.get(DQKV) + (b * ts + s) * width + nh * hd + d, 0f);
                    }
                }
                for (int h = 0; h < nh; h++) {
                    int kvh = h / (nh / nkv);
                    for (int t = 0; t < ts; t++) {
                        int row = (b * ts + t) * nh * hd + h * hd;
                        float lse = act.get(m.get(LSE) + aOff + (b * nh + h) * ts + t);
                        float delta = 0f;
                        for (int d = 0; d < hd; d++) {
                            delta += dact.get(m.get(DOUT) + row + d) * act.get(m.get(OUT) + aOff + row + d);
                        }
                        dact.set(m.get(DELTA) + (b * nh + h) * ts + t, delta);
                        float[] dq = new float[hd];
                        for (int s = 0; s <= t; s++) {
                            float dot = 0f;
                            float dp = 0f;
                            for (int d = 0; d < hd; d++) {
                                dot += act.get(base + t * width + h * hd + d)
                                        * act.get(base + s * width + (nh + kvh) * hd + d);
                                dp += dact.get(m.get(DOUT) + row + d)
                                        * act.get(base + s * width + (nh + nkv + kvh) * hd + d);
                            }
                            float p = (float) Math.exp(dot * scale - lse);
                            float ds = p * (dp - delta) * scale;
                            int dRow = m.get(DQKV) + (b * ts + s) * width;
                            for (int d = 0; d < hd; d++) {
                                dq[d] += ds * act.get(base + s * width + (nh + kvh) * hd + d);
                                int dk = dRow + (nh + kvh) * hd + d;
                                dact.set(dk, dact.get(dk) + ds * act.get(base + t * width + h * hd + d));
                                int dv = dRow + (nh + nkv + kvh) * hd + d;
                                dact.set(dv, dact.get(dv) + p * dact.get(m.get(DOUT) + row + d));
                            }
                        }
                        for (int d = 0; d < hd; d++) {
                            dact.set(m.get(DQKV) + (b * ts + t) * width + h * hd + d, dq[d]);
                        }
                    }
                }
            }
        }
    }
}
