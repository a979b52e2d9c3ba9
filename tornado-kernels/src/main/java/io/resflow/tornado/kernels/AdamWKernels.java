package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * AdamW over the whole flat parameter array, one work-item per value (the kernel is not called "step": TornadoVM
 * names the OpenCL kernel after the method, and step() is an OpenCL built-in):
 * g' = g scale; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2; p -= lr (m/c1 / (sqrt(v/c2) + eps) + wd p), with the
 * bias corrections c1 = 1 - b1^t, c2 = 1 - b2^t computed by the host in double. Everything that changes per step
 * (lr, t, the clipping scale) travels in the small {@code hyper} array sent with every execution.
 */
public final class AdamWKernels {
    public static final int LR = 0, B1 = 1, B2 = 2, EPS = 3, WD = 4, SCALE = 5, C1 = 6, C2 = 7, SIZE = 8;

    private AdamWKernels() {
    }

    // p, g, mom, vel (n). Launch: n work-items.
    public static void update(KernelContext ctx, FloatArray p, FloatArray g, FloatArray mom, FloatArray vel,
            FloatArray hyper, IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(0)) {
            float b1 = hyper.get(B1);
            float b2 = hyper.get(B2);
            float grad = g.get(i) * hyper.get(SCALE);
            float mi = b1 * mom.get(i) + (1f - b1) * grad;
            float vi = b2 * vel.get(i) + (1f - b2) * grad * grad;
            mom.set(i, mi);
            vel.set(i, vi);
            float pi = p.get(i);
            float update = (mi / hyper.get(C1)) / (TornadoMath.sqrt(vi / hyper.get(C2)) + hyper.get(EPS))
                    + hyper.get(WD) * pi;
            p.set(i, pi - hyper.get(LR) * update);
        }
    }
}
