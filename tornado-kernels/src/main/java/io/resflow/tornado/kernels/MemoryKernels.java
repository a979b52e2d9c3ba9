package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/** Fills, copies, and the no-op "touch" kernels that give a task graph ownership of device buffers. */
public final class MemoryKernels {
    public static final int C_DST = 0, C_DSTRIDE = 1, C_SRC = 2, C_SSTRIDE = 3, C_COUNT = 4;

    private MemoryKernels() {
    }

    // x[off .. off+n) = 0 with m = [off, n]. Launch: n work-items.
    public static void zero(KernelContext ctx, FloatArray x, IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(1)) {
            x.set(m.get(0) + i, 0f);
        }
    }

    // x[dst + l dstStride + i] = x[src + l srcStride + i] for i < n, l = layer[0]; the two ranges do not overlap.
    // Launch: n work-items.
    public static void copy(KernelContext ctx, FloatArray x, IntArray layer, IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(C_COUNT)) {
            int l = layer.get(0);
            x.set(m.get(C_DST) + l * m.get(C_DSTRIDE) + i, x.get(m.get(C_SRC) + l * m.get(C_SSTRIDE) + i));
        }
    }

    // out[0 .. n) = x[off .. off+n) with m = [off, n] (a result the host reads). Launch: n work-items.
    public static void copyOut(KernelContext ctx, FloatArray x, FloatArray out, IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(1)) {
            out.set(i, x.get(m.get(0) + i));
        }
    }

    // dst[i] = src[i] for i < m[0] (gradients sent from the host into the device's flat array). Launch: m[0] items.
    public static void copyIn(KernelContext ctx, FloatArray dst, FloatArray src, IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(0)) {
            dst.set(i, src.get(i));
        }
    }

    /**
     * Names two float buffers and an int buffer as arguments without changing them (flag holds 0), so that the graph
     * running it allocates them on the device and the other graphs can consume them.
     */
    public static void touch(KernelContext ctx, FloatArray a, FloatArray b, IntArray c, IntArray flag) {
        if (ctx.globalIdx == 0 && flag.get(0) == 1) {
            a.set(0, b.get(0) + c.get(0));
        }
    }
}
