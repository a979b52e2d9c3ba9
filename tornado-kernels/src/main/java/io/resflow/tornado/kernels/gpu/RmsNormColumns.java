package io.resflow.tornado.kernels.gpu;

import io.resflow.tornado.kernels.LayerNormKernels;
import io.resflow.tornado.kernels.RmsNormKernels;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * RMSNorm's weight gradient, GPU-shaped: the column reduction of {@link LayerNormColumns} (forward and input gradient
 * are the row reductions of {@link RmsNormKernels}, shared by both shapes).
 *
 * <p>Plain-Java meaning ({@link RmsNormKernels#backwardParams}): dw[c] = sum over rows n of dout[n][c] x[n][c]
 * rstd[n]. Per work-group: 2 LX N + N floats read, 3 LX N FLOPs. Arguments and launch as {@link LayerNormColumns}.
 */
public final class RmsNormColumns {
    private RmsNormColumns() {
    }

    public static void backwardParams(KernelContext ctx, FloatArray g, FloatArray dact, FloatArray act, IntArray layer,
            IntArray m) {
        float[] pw = ctx.allocateFloatLocalArray(256);
        int lx = ctx.localGroupSizeX;
        int ly = ctx.localGroupSizeY;
        int tx = ctx.localIdx;
        int ty = ctx.localIdy;
        int n = m.get(LayerNormKernels.BP_N);
        int c = m.get(LayerNormKernels.BP_C);
        int ch = ctx.groupIdx * lx + tx;
        int l = layer.get(0);
        int aOff = l * m.get(LayerNormKernels.BP_ASTRIDE);
        int in = m.get(LayerNormKernels.BP_IN) + aOff;
        int st = m.get(LayerNormKernels.BP_STAT) + aOff + n;
        int dout = m.get(LayerNormKernels.BP_DOUT);
        float dw = 0f;
        if (ch < c) {
            for (int r = ty; r < n; r += ly) {
                dw += dact.get(dout + r * c + ch) * act.get(in + r * c + ch) * act.get(st + r);
            }
        }
        pw[ty * lx + tx] = dw;
        ctx.localBarrier();
        for (int stride = ly / 2; stride > 0; stride >>= 1) {
            if (ty < stride) {
                pw[ty * lx + tx] += pw[(ty + stride) * lx + tx];
            }
            ctx.localBarrier();
        }
        if (ty == 0 && ch < c) {
            g.set(m.get(LayerNormKernels.BP_W) + l * m.get(LayerNormKernels.BP_PSTRIDE) + ch, pw[tx]);
        }
    }
}
