package io.resflow.tornado.kernels.gpu;

import io.resflow.tornado.kernels.LayerNormKernels;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * LayerNorm's parameter gradients, GPU-shaped: a column reduction over the N rows in work-group local memory. The
 * forward and the input gradient are already row reductions in local memory ({@link LayerNormKernels}, one
 * work-group per row, 128-256 wide on a GPU) and are shared by both shapes.
 *
 * <p>Plain-Java meaning ({@link LayerNormKernels#backwardParams}, the CPU shape: one work-item per channel walking
 * all N rows, which leaves a GPU with only C work-items):
 * <pre>
 * dw[c] = sum over rows n of dout[n][c] (x[n][c] - mean[n]) rstd[n];   db[c] = sum over rows n of dout[n][c]
 * </pre>
 * Shape: a work-group of LX channels by LY row lanes (LX LY &lt;= 256, LY a power of two): lane ty sums rows ty,
 * ty + LY, ...; neighbouring work-items read neighbouring channels; the LY partials of each channel are added in local
 * memory. Per work-group: 3 LX N floats read (dout, x, and the row statistics once per lane), 4 LX N FLOPs. Same
 * argument layout as {@link LayerNormKernels#backwardParams}. Launch: 2D, x over ceil(C / LX) groups, y exactly LY.
 */
public final class LayerNormColumns {
    private LayerNormColumns() {
    }

    public static void backwardParams(KernelContext ctx, FloatArray g, FloatArray dact, FloatArray act, IntArray layer,
            IntArray m) {
        float[] pw = ctx.allocateFloatLocalArray(256);
        float[] pb = ctx.allocateFloatLocalArray(256);
        int lx = ctx.localGroupSizeX;
        int ly = ctx.localGroupSizeY;
        int tx = ctx.localIdx;
        int ty = ctx.localIdy;
        int n = m.get(LayerNormKernels.BP_N);
        int c = m.get(LayerNormKernels.BP_C);
        int ch = ctx.groupIdx * lx + tx;
        int l = layer.get(0);
        int aOff = l * m.get(LayerNormKernels.BP_ASTRIDE);
        int pOff = l * m.get(LayerNormKernels.BP_PSTRIDE);
        int in = m.get(LayerNormKernels.BP_IN) + aOff;
        int st = m.get(LayerNormKernels.BP_STAT) + aOff;
        int dout = m.get(LayerNormKernels.BP_DOUT);
        float dw = 0f;
        float db = 0f;
        if (ch < c) {
            for (int r = ty; r < n; r += ly) {
                float d = dact.get(dout + r * c + ch);
                dw += d * (act.get(in + r * c + ch) - act.get(st + r)) * act.get(st + n + r);
                db += d;
            }
        }
        pw[ty * lx + tx] = dw;
        pb[ty * lx + tx] = db;
        ctx.localBarrier();
        for (int stride = ly / 2; stride > 0; stride >>= 1) {
            if (ty < stride) {
                pw[ty * lx + tx] += pw[(ty + stride) * lx + tx];
                pb[ty * lx + tx] += pb[(ty + stride) * lx + tx];
            }
            ctx.localBarrier();
        }
        if (ty == 0 && ch < c) {
            g.set(m.get(LayerNormKernels.BP_W) + pOff + ch, pw[tx]);
            int bOff = m.get(LayerNormKernels.BP_B);
            if (bOff >= 0) {
                g.set(bOff + pOff + ch, pb[tx]);
            }
        }
    }
}
