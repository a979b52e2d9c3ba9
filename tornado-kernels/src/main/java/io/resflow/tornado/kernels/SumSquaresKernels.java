package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Sum of squares of the whole gradient (for the global norm), as a two-pass reduction: {@link #partials} has each of G
 * work-groups reduce a grid-strided share into one value, {@link #combine} reduces the G partials in one group. Two
 * launches because a work-group must never read another group's result within one launch (there is no grid-wide
 * barrier). Fixed order, so deterministic.
 */
public final class SumSquaresKernels {
    private SumSquaresKernels() {
    }

    // g (n) -> partial (G), n = m[0]. Launch: G work-groups.
    public static void partials(KernelContext ctx, FloatArray g, FloatArray partial, IntArray m) {
        // the tree reduction below is written out on purpose, as in every work-group kernel (see Reduce)
        float[] scratch = ctx.allocateFloatLocalArray(Reduce.MAX_LOCAL);
        int lid = ctx.localIdx;
        int ls = ctx.localGroupSizeX;
        int n = m.get(0);
        int gridStride = ctx.globalGroupSizeX;
        float s = 0f;
        for (int i = ctx.globalIdx; i < n; i += gridStride) {
            float x = g.get(i);
            s += x * x;
        }
        scratch[lid] = s;
        ctx.localBarrier();
        for (int stride = ls / 2; stride > 0; stride >>= 1) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float total = scratch[0];
        ctx.localBarrier();
        if (ctx.localIdx == 0) {
            partial.set(ctx.groupIdx, total);
        }
    }

    // partial (G) -> out[0], G = m[1]. Launch: exactly one work-group.
    public static void combine(KernelContext ctx, FloatArray partial, FloatArray out, IntArray m) {
        // the tree reduction below is written out on purpose, as in every work-group kernel (see Reduce)
        float[] scratch = ctx.allocateFloatLocalArray(Reduce.MAX_LOCAL);
        int lid = ctx.localIdx;
        int ls = ctx.localGroupSizeX;
        int groups = m.get(1);
        float s = 0f;
        for (int i = lid; i < groups; i += ls) {
            s += partial.get(i);
        }
        scratch[lid] = s;
        ctx.localBarrier();
        for (int stride = ls / 2; stride > 0; stride >>= 1) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float total = scratch[0];
        ctx.localBarrier();
        if (ctx.localIdx == 0) {
            out.set(0, total);
        }
    }
}
