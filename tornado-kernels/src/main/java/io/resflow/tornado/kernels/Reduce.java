package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;

/**
 * The local-memory tree reduction every work-group kernel uses. Local arrays need a size known when the kernel is
 * compiled, so they are allocated with {@link #MAX_LOCAL} and launches use a power-of-two local size no larger.
 */
public final class Reduce {
    /** Largest work-group size a kernel with local memory may be launched with. */
    public static final int MAX_LOCAL = 256;

    private Reduce() {
    }

    /**
     * Sums {@code value} over the work-group; every work-item gets the sum. Ends with a barrier, so the local array can
     * be reused at once. Needs a power-of-two local size.
     */
    public static float sum(KernelContext ctx, float[] scratch, float value) {
        int lid = ctx.localIdx;
        scratch[lid] = value;
        ctx.localBarrier();
        for (int stride = ctx.localGroupSizeX / 2; stride > 0; stride >>= 1) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float total = scratch[0];
        ctx.localBarrier();
        return total;
    }

    /** Maximum over the work-group, like {@link #sum}. */
    public static float max(KernelContext ctx, float[] scratch, float value) {
        int lid = ctx.localIdx;
        scratch[lid] = value;
        ctx.localBarrier();
        for (int stride = ctx.localGroupSizeX / 2; stride > 0; stride >>= 1) {
            if (lid < stride) {
                scratch[lid] = Math.max(scratch[lid], scratch[lid + stride]);
            }
            ctx.localBarrier();
        }
        float total = scratch[0];
        ctx.localBarrier();
        return total;
    }
}
