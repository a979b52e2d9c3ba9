package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * LayerNorm over the last dimension, y = (x - mean) / sqrt(var + eps) * w + b (biased variance, two passes, like the
 * reference).
 *
 * <p>Forward and the input gradient are row reductions: one work-group per row, each work-item strides over the C
 * channels and the group reduces in local memory, so a row of any width keeps the whole group busy (a work-item per
 * row would leave a GPU idle with only N = B*T rows). The weight gradients reduce over rows instead: one work-item
 * per channel reads the rows in order, which is deterministic without atomics and coalesced across work-items.
 *
 * <p>Statistics are stored as [mean (N) | rstd (N)] at {@code statOff}.
 */
public final class LayerNormKernels {
    // forward args
    public static final int F_OUT = 0, F_STAT = 1, F_IN = 2, F_W = 3, F_B = 4, F_ASTRIDE = 5, F_PSTRIDE = 6, F_N = 7,
            F_C = 8;
    // backwardInput args
    public static final int BI_DIN = 0, BI_DOUT = 1, BI_IN = 2, BI_STAT = 3, BI_W = 4, BI_ASTRIDE = 5, BI_PSTRIDE = 6,
            BI_N = 7, BI_C = 8, BI_ACC = 9;
    // backwardParams args
    public static final int BP_W = 0, BP_B = 1, BP_DOUT = 2, BP_IN = 3, BP_STAT = 4, BP_ASTRIDE = 5, BP_PSTRIDE = 6,
            BP_N = 7, BP_C = 8;

    private LayerNormKernels() {
    }

    // act: inp (N,C) -> out (N,C), stats (2N); p: w (C), b (C) or F_B < 0. Launch: N work-groups.
    public static void forward(KernelContext ctx, FloatArray act, FloatArray p, FloatArray consts, IntArray layer,
            IntArray m) {
        // the tree reduction below is written out on purpose, as in every work-group kernel (see Reduce)
        float[] scratch = ctx.allocateFloatLocalArray(Reduce.MAX_LOCAL);
        int row = ctx.groupIdx;
        int lid = ctx.localIdx;
        int ls = ctx.localGroupSizeX;
        int l = layer.get(0);
        int n = m.get(F_N);
        int c = m.get(F_C);
        int aOff = l * m.get(F_ASTRIDE);
        int pOff = l * m.get(F_PSTRIDE);
        int in = m.get(F_IN) + aOff + row * c;
        int out = m.get(F_OUT) + aOff + row * c;
        int w = m.get(F_W) + pOff;
        int bOff = m.get(F_B);
        float s = 0f;
        for (int i = lid; i < c; i += ls) {
            s += act.get(in + i);
        }
        scratch[lid] = s;
        ctx.localBarrier();
        for (int stride = ls / 2; stride > 0; stride >>= 1) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float sumX = scratch[0];
        ctx.localBarrier();
        float mean = sumX / c;
        float v = 0f;
        for (int i = lid; i < c; i += ls) {
            float d = act.get(in + i) - mean;
            v += d * d;
        }
        scratch[lid] = v;
        ctx.localBarrier();
        for (int stride = ls / 2; stride > 0; stride >>= 1) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float sumD = scratch[0];
        ctx.localBarrier();
        float rstd = 1f / TornadoMath.sqrt(sumD / c + consts.get(Consts.NORM_EPS));
        for (int i = lid; i < c; i += ls) {
            float y = (act.get(in + i) - mean) * rstd * p.get(w + i);
            if (bOff >= 0) {
                y += p.get(bOff + pOff + i);
            }
            act.set(out + i, y);
        }
        if (lid == 0) {
            int st = m.get(F_STAT) + aOff;
            act.set(st + row, mean);
            act.set(st + n + row, rstd);
        }
    }

    // dact: dout (N,C) -> dinp (N,C), = or += (BI_ACC); dinp = rstd (g - mean(g) - xhat mean(g xhat)), g = dout w.
    // Launch: N work-groups.
    public static void backwardInput(KernelContext ctx, FloatArray dact, FloatArray act, FloatArray p, IntArray layer,
            IntArray m) {
        // the tree reduction below is written out on purpose, as in every work-group kernel (see Reduce)
        float[] scratch = ctx.allocateFloatLocalArray(Reduce.MAX_LOCAL);
        float[] scratch2 = ctx.allocateFloatLocalArray(Reduce.MAX_LOCAL);
        int row = ctx.groupIdx;
        int lid = ctx.localIdx;
        int ls = ctx.localGroupSizeX;
        int l = layer.get(0);
        int n = m.get(BI_N);
        int c = m.get(BI_C);
        int aOff = l * m.get(BI_ASTRIDE);
        int in = m.get(BI_IN) + aOff + row * c;
        int st = m.get(BI_STAT) + aOff;
        float mean = act.get(st + row);
        float rstd = act.get(st + n + row);
        int w = m.get(BI_W) + l * m.get(BI_PSTRIDE);
        int dout = m.get(BI_DOUT) + row * c;
        int din = m.get(BI_DIN) + row * c;
        int acc = m.get(BI_ACC);
        float sg = 0f;
        float sgx = 0f;
        for (int i = lid; i < c; i += ls) {
            float xhat = (act.get(in + i) - mean) * rstd;
            float gi = dact.get(dout + i) * p.get(w + i);
            sg += gi;
            sgx += gi * xhat;
        }
        scratch[lid] = sg;
        scratch2[lid] = sgx;
        ctx.localBarrier();
        for (int stride = ls / 2; stride > 0; stride >>= 1) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
                scratch2[lid] += scratch2[lid + stride];
            }
            ctx.localBarrier();
        }
        float meanG = scratch[0] / c;
        float meanGx = scratch2[0] / c;
        for (int i = lid; i < c; i += ls) {
            float xhat = (act.get(in + i) - mean) * rstd;
            float gi = dact.get(dout + i) * p.get(w + i);
            float d = rstd * (gi - meanG - xhat * meanGx);
            if (acc != 0) {
                d += dact.get(din + i);
            }
            dact.set(din + i, d);
        }
    }

    // dw (C) = sum_n dout xhat, db (C) = sum_n dout (BP_B < 0: none), written (=) into g. Launch: C work-items.
    public static void backwardParams(KernelContext ctx, FloatArray g, FloatArray dact, FloatArray act, IntArray layer,
            IntArray m) {
        int ch = ctx.globalIdx;
        int n = m.get(BP_N);
        int c = m.get(BP_C);
        if (ch < c) {
            int l = layer.get(0);
            int aOff = l * m.get(BP_ASTRIDE);
            int pOff = l * m.get(BP_PSTRIDE);
            int in = m.get(BP_IN) + aOff;
            int st = m.get(BP_STAT) + aOff;
            int dout = m.get(BP_DOUT);
            float dw = 0f;
            float db = 0f;
            for (int r = 0; r < n; r++) {
                float d = dact.get(dout + r * c + ch);
                float xhat = (act.get(in + r * c + ch) - act.get(st + r)) * act.get(st + n + r);
                dw += d * xhat;
                db += d;
            }
            g.set(m.get(BP_W) + pOff + ch, dw);
            int bOff = m.get(BP_B);
            if (bOff >= 0) {
                g.set(bOff + pOff + ch, db);
            }
        }
    }
}
