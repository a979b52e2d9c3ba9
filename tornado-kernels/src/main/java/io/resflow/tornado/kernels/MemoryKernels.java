package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/** Fills and the no-op "touch" kernels that give a task graph ownership of device buffers. */
public final class MemoryKernels {
    private MemoryKernels() {
    }

    // x[off .. off+n) = 0 with m = [off, n]. Launch: n work-items.
    public static void zero(KernelContext ctx, FloatArray x, IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(1)) {
            x.set(m.get(0) + i, 0f);
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
