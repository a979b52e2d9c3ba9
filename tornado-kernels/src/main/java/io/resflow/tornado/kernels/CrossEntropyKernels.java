package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Softmax cross-entropy against explicit targets, mean over the N positions. The forward is a row reduction over the
 * vocabulary (max, then sum of exponentials) with one work-group per row; the mean loss is a second, one-group
 * reduction over the N row losses (two passes: no work-group reads another's result within a launch). The gradient
 * (probs - onehot) / N is elementwise.
 */
public final class CrossEntropyKernels {
    public static final int LOGITS = 0, PROBS = 1, LOSSES = 2, N = 3, V = 4, DLOGITS = 5;

    private CrossEntropyKernels() {
    }

    // act: logits (N,V) -> probs (N,V), losses (N); tok: targets at tok[N..2N). Launch: N work-groups.
    public static void forward(KernelContext ctx, FloatArray act, IntArray tok, IntArray m) {
        // the tree reduction below is written out on purpose, as in every work-group kernel (see Reduce)
        float[] scratch = ctx.allocateFloatLocalArray(Reduce.MAX_LOCAL);
        int row = ctx.groupIdx;
        int lid = ctx.localIdx;
        int ls = ctx.localGroupSizeX;
        int v = m.get(V);
        int logits = m.get(LOGITS) + row * v;
        int probs = m.get(PROBS) + row * v;
        float mx = -Float.MAX_VALUE;
        for (int i = lid; i < v; i += ls) {
            mx = TornadoMath.max(mx, act.get(logits + i));
        }
        scratch[lid] = mx;
        ctx.localBarrier();
        for (int stride = ls / 2; stride > 0; stride >>= 1) {
            if (lid < stride) {
                scratch[lid] = TornadoMath.max(scratch[lid], scratch[lid + stride]);
            }
            ctx.localBarrier();
        }
        float rowMax = scratch[0];
        ctx.localBarrier();
        float s = 0f;
        for (int i = lid; i < v; i += ls) {
            s += TornadoMath.exp(act.get(logits + i) - rowMax);
        }
        scratch[lid] = s;
        ctx.localBarrier();
        for (int stride = ls / 2; stride > 0; stride >>= 1) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float sumExp = scratch[0];
        ctx.localBarrier();
        float logSum = TornadoMath.log(sumExp) + rowMax;
        for (int i = lid; i < v; i += ls) {
            act.set(probs + i, TornadoMath.exp(act.get(logits + i) - logSum));
        }
        if (lid == 0) {
            int target = tok.get(m.get(N) + row);
            act.set(m.get(LOSSES) + row, logSum - act.get(logits + target));
        }
    }

    // act: losses (N) -> loss[0] = mean. Launch: exactly one work-group.
    public static void meanLoss(KernelContext ctx, FloatArray act, FloatArray loss, FloatArray consts, IntArray m) {
        // the tree reduction below is written out on purpose, as in every work-group kernel (see Reduce)
        float[] scratch = ctx.allocateFloatLocalArray(Reduce.MAX_LOCAL);
        int lid = ctx.localIdx;
        int ls = ctx.localGroupSizeX;
        int n = m.get(N);
        int losses = m.get(LOSSES);
        float s = 0f;
        for (int i = lid; i < n; i += ls) {
            s += act.get(losses + i);
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
            loss.set(0, total * consts.get(Consts.INV_N));
        }
    }

    // act: probs (N,V) -> dact: dlogits (N,V) = (probs - onehot(target)) / N. Launch: N*V work-items.
    public static void backward(KernelContext ctx, FloatArray dact, FloatArray act, IntArray tok, FloatArray consts,
            IntArray m) {
        int n = m.get(N);
        int v = m.get(V);
        int idx = ctx.globalIdx;
        if (idx < n * v) {
            int row = idx / v;
            int col = idx % v;
            float d = act.get(m.get(PROBS) + idx);
            if (col == tok.get(n + row)) {
                d -= 1f;
            }
            dact.set(m.get(DLOGITS) + idx, d * consts.get(Consts.INV_N));
        }
    }
}
