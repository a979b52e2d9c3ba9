package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The residual join out = alpha skip + gate branch. alpha is the scheme's skip weight ({@link Consts#SKIP_ALPHA}); the
 * gate is 1, or ReZero's learnable scalar read from the parameters on the device (so an AdamW step on the device is
 * seen by the next forward without a transfer). Backward: dskip = alpha dout, dbranch = gate dout (both =), and the
 * gate's gradient sum(dout branch) as a one-work-group deterministic reduction.
 */
public final class ResidualKernels {
    public static final int F_OUT = 0, F_SKIP = 1, F_BRANCH = 2, F_GATE = 3, F_ASTRIDE = 4, F_PSTRIDE = 5, F_COUNT = 6;
    public static final int B_DSKIP = 0, B_DBRANCH = 1, B_DOUT = 2, B_GATE = 3, B_PSTRIDE = 4, B_COUNT = 5;
    public static final int G_GATE = 0, G_DOUT = 1, G_BRANCH = 2, G_ASTRIDE = 3, G_PSTRIDE = 4, G_COUNT = 5;

    private ResidualKernels() {
    }

    // act: skip (n), branch (n) -> out (n); p: gate at F_GATE (< 0: gate 1). Launch: n work-items.
    public static void forward(KernelContext ctx, FloatArray act, FloatArray p, FloatArray consts, IntArray layer,
            IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(F_COUNT)) {
            int l = layer.get(0);
            int aOff = l * m.get(F_ASTRIDE);
            int gateOff = m.get(F_GATE);
            float gate = 1f;
            if (gateOff >= 0) {
                gate = p.get(gateOff + l * m.get(F_PSTRIDE));
            }
            float alpha = consts.get(Consts.SKIP_ALPHA);
            act.set(m.get(F_OUT) + aOff + i,
                    alpha * act.get(m.get(F_SKIP) + aOff + i) + gate * act.get(m.get(F_BRANCH) + aOff + i));
        }
    }

    // dact: dout (n) -> dskip (n) = alpha dout, dbranch (n) = gate dout. Launch: n work-items.
    public static void backward(KernelContext ctx, FloatArray dact, FloatArray p, FloatArray consts, IntArray layer,
            IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(B_COUNT)) {
            int gateOff = m.get(B_GATE);
            float gate = 1f;
            if (gateOff >= 0) {
                gate = p.get(gateOff + layer.get(0) * m.get(B_PSTRIDE));
            }
            float d = dact.get(m.get(B_DOUT) + i);
            dact.set(m.get(B_DSKIP) + i, consts.get(Consts.SKIP_ALPHA) * d);
            dact.set(m.get(B_DBRANCH) + i, gate * d);
        }
    }

    // g: dgate = sum(dout branch) (=). Launch: exactly one work-group.
    public static void gateGradient(KernelContext ctx, FloatArray g, FloatArray dact, FloatArray act, IntArray layer,
            IntArray m) {
        // the tree reduction below is written out on purpose, as in every work-group kernel (see Reduce)
        float[] scratch = ctx.allocateFloatLocalArray(Reduce.MAX_LOCAL);
        int lid = ctx.localIdx;
        int ls = ctx.localGroupSizeX;
        int l = layer.get(0);
        int n = m.get(G_COUNT);
        int dout = m.get(G_DOUT);
        int branch = m.get(G_BRANCH) + l * m.get(G_ASTRIDE);
        float s = 0f;
        for (int i = lid; i < n; i += ls) {
            s += dact.get(dout + i) * act.get(branch + i);
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
        if (lid == 0) {
            g.set(m.get(G_GATE) + l * m.get(G_PSTRIDE), total);
        }
    }
}
