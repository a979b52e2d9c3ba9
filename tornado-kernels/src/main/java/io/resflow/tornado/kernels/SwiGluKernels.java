package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * SwiGLU gate: y = silu(g) u with the input row holding g (F values) then u (F values). Elementwise over (N, F); the
 * backward writes both halves of the input gradient from the same work-item, so each has one writer.
 */
public final class SwiGluKernels {
    public static final int F_OUT = 0, F_IN = 1, F_ASTRIDE = 2, F_N = 3, F_F = 4;
    public static final int B_DIN = 0, B_DOUT = 1, B_IN = 2, B_ASTRIDE = 3, B_N = 4, B_F = 5;

    private SwiGluKernels() {
    }

    // act: inp (N,2F) -> out (N,F). Launch: N*F work-items.
    public static void forward(KernelContext ctx, FloatArray act, IntArray layer, IntArray m) {
        int f = m.get(F_F);
        int idx = ctx.globalIdx;
        if (idx < m.get(F_N) * f) {
            int aOff = layer.get(0) * m.get(F_ASTRIDE);
            int n = idx / f;
            int i = idx % f;
            int in = m.get(F_IN) + aOff + n * 2 * f + i;
            float g = act.get(in);
            float u = act.get(in + f);
            act.set(m.get(F_OUT) + aOff + idx, g / (1f + TornadoMath.exp(-g)) * u);
        }
    }

    // dact: dout (N,F) -> dinp (N,2F) (=); act: inp. Launch: N*F work-items.
    public static void backward(KernelContext ctx, FloatArray dact, FloatArray act, IntArray layer, IntArray m) {
        int f = m.get(B_F);
        int idx = ctx.globalIdx;
        if (idx < m.get(B_N) * f) {
            int n = idx / f;
            int i = idx % f;
            int in = m.get(B_IN) + layer.get(0) * m.get(B_ASTRIDE) + n * 2 * f + i;
            float g = act.get(in);
            float u = act.get(in + f);
            float sig = 1f / (1f + TornadoMath.exp(-g));
            float dy = dact.get(m.get(B_DOUT) + idx);
            int din = m.get(B_DIN) + n * 2 * f + i;
            dact.set(din, dy * u * sig * (1f + g * (1f - sig)));
            dact.set(din + f, dy * g * sig);
        }
    }
}
