package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * GELU, tanh approximation: y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Elementwise, one work-item per value.
 */
public final class GeluKernels {
    public static final int F_OUT = 0, F_IN = 1, F_ASTRIDE = 2, F_COUNT = 3;
    public static final int B_DIN = 0, B_DOUT = 1, B_IN = 2, B_ASTRIDE = 3, B_COUNT = 4;
    private static final float K = 0.7978845608028654f;

    private GeluKernels() {
    }

    // act: inp (n) -> out (n). Launch: n work-items.
    public static void forward(KernelContext ctx, FloatArray act, IntArray layer, IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(F_COUNT)) {
            int aOff = layer.get(0) * m.get(F_ASTRIDE);
            float x = act.get(m.get(F_IN) + aOff + i);
            act.set(m.get(F_OUT) + aOff + i, 0.5f * x * (1f + TornadoMath.tanh(K * (x + 0.044715f * x * x * x))));
        }
    }

    // dact: dout (n) -> dinp (n) (=); act: inp. Launch: n work-items.
    public static void backward(KernelContext ctx, FloatArray dact, FloatArray act, IntArray layer, IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(B_COUNT)) {
            float x = act.get(m.get(B_IN) + layer.get(0) * m.get(B_ASTRIDE) + i);
            float th = TornadoMath.tanh(K * (x + 0.044715f * x * x * x));
            float grad = 0.5f * (1f + th) + 0.5f * x * (1f - th * th) * K * (1f + 3f * 0.044715f * x * x);
            dact.set(m.get(B_DIN) + i, grad * dact.get(m.get(B_DOUT) + i));
        }
    }
}
