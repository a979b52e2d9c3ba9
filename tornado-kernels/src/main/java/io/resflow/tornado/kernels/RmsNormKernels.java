package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * RMSNorm, y = x rstd w with rstd = 1 / sqrt(mean(x^2) + eps). Launch shapes and argument layouts are those of
 * {@link LayerNormKernels} (the bias entry is ignored): a work-group per row for the row reductions, a work-item per
 * channel for the weight gradient. Statistics use the same [unused (N) | rstd (N)] layout.
 */
public final class RmsNormKernels {
    private RmsNormKernels() {
    }

    // act: inp (N,C) -> out (N,C), rstd (N); p: w (C). Args as LayerNormKernels.forward. Launch: N work-groups.
    public static void forward(KernelContext ctx, FloatArray act, FloatArray p, FloatArray consts, IntArray layer,
            IntArray m) {
        // the tree reduction below is written out on purpose, as in every work-group kernel (see Reduce)
        float[] scratch = ctx.allocateFloatLocalArray(Reduce.MAX_LOCAL);
        int row = ctx.groupIdx;
        int lid = ctx.localIdx;
        int ls = ctx.localGroupSizeX;
        int l = layer.get(0);
        int n = m.get(LayerNormKernels.F_N);
        int c = m.get(LayerNormKernels.F_C);
        int aOff = l * m.get(LayerNormKernels.F_ASTRIDE);
        int in = m.get(LayerNormKernels.F_IN) + aOff + row * c;
        int out = m.get(LayerNormKernels.F_OUT) + aOff + row * c;
        int w = m.get(LayerNormKernels.F_W) + l * m.get(LayerNormKernels.F_PSTRIDE);
        float ss = 0f;
        for (int i = lid; i < c; i += ls) {
            float x = act.get(in + i);
            ss += x * x;
        }
        scratch[lid] = ss;
        ctx.localBarrier();
        for (int stride = ls / 2; stride > 0; stride >>= 1) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float sumSq = scratch[0];
        ctx.localBarrier();
        float rstd = 1f / TornadoMath.sqrt(sumSq / c + consts.get(Consts.NORM_EPS));
        for (int i = lid; i < c; i += ls) {
            act.set(out + i, act.get(in + i) * rstd * p.get(w + i));
        }
        if (lid == 0) {
            act.set(m.get(LayerNormKernels.F_STAT) + aOff + n + row, rstd);
        }
    }

    // dact: dout (N,C) -> dinp (N,C), = or +=: dinp = rstd (g - x rstd^2 mean(g x)), g = dout w. Launch: N groups.
    public static void backwardInput(KernelContext ctx, FloatArray dact, FloatArray act, FloatArray p, IntArray layer,
            IntArray m) {
        // the tree reduction below is written out on purpose, as in every work-group kernel (see Reduce)
        float[] scratch = ctx.allocateFloatLocalArray(Reduce.MAX_LOCAL);
        int row = ctx.groupIdx;
        int lid = ctx.localIdx;
        int ls = ctx.localGroupSizeX;
        int l = layer.get(0);
        int n = m.get(LayerNormKernels.BI_N);
        int c = m.get(LayerNormKernels.BI_C);
        int aOff = l * m.get(LayerNormKernels.BI_ASTRIDE);
        int in = m.get(LayerNormKernels.BI_IN) + aOff + row * c;
        float rstd = act.get(m.get(LayerNormKernels.BI_STAT) + aOff + n + row);
        int w = m.get(LayerNormKernels.BI_W) + l * m.get(LayerNormKernels.BI_PSTRIDE);
        int dout = m.get(LayerNormKernels.BI_DOUT) + row * c;
        int din = m.get(LayerNormKernels.BI_DIN) + row * c;
        int acc = m.get(LayerNormKernels.BI_ACC);
        float sgx = 0f;
        for (int i = lid; i < c; i += ls) {
            sgx += dact.get(dout + i) * p.get(w + i) * act.get(in + i);
        }
        scratch[lid] = sgx;
        ctx.localBarrier();
        for (int stride = ls / 2; stride > 0; stride >>= 1) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float sumGx = scratch[0];
        ctx.localBarrier();
        float meanGx = sumGx / c;
        for (int i = lid; i < c; i += ls) {
            float gi = dact.get(dout + i) * p.get(w + i);
            float d = rstd * (gi - act.get(in + i) * rstd * rstd * meanGx);
            if (acc != 0) {
                d += dact.get(din + i);
            }
            dact.set(din + i, d);
        }
    }

    // dw (C) = sum_n dout x rstd, written (=) into g. Args as LayerNormKernels.backwardParams. Launch: C work-items.
    public static void backwardParams(KernelContext ctx, FloatArray g, FloatArray dact, FloatArray act, IntArray layer,
            IntArray m) {
        int ch = ctx.globalIdx;
        int n = m.get(LayerNormKernels.BP_N);
        int c = m.get(LayerNormKernels.BP_C);
        if (ch < c) {
            int l = layer.get(0);
            int aOff = l * m.get(LayerNormKernels.BP_ASTRIDE);
            int in = m.get(LayerNormKernels.BP_IN) + aOff;
            int st = m.get(LayerNormKernels.BP_STAT) + aOff + n;
            int dout = m.get(LayerNormKernels.BP_DOUT);
            float dw = 0f;
            for (int r = 0; r < n; r++) {
                dw += dact.get(dout + r * c + ch) * act.get(in + r * c + ch) * act.get(st + r);
            }
            g.set(m.get(LayerNormKernels.BP_W) + l * m.get(LayerNormKernels.BP_PSTRIDE) + ch, dw);
        }
    }
}
