package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Rotary position embedding, rotate-half convention: in every q and k head, channel j pairs with j + hd/2 and both
 * turn by t * theta^(-2j/hd). One work-item per pair, in place. The angles come from cos/sin tables the host fills
 * in double precision (at {@link Consts#ROPE}), so the device never evaluates pow/sin/cos of large arguments in
 * float. The backward pass is the same kernel with the sign of the sine flipped (the transposed rotation).
 */
public final class RopeKernels {
    public static final int OFF = 0, STRIDE = 1, N = 2, T = 3, HEADS = 4, HD = 5, WIDTH = 6, SIGN = 7;

    private RopeKernels() {
    }

    // x: qkv (N, WIDTH) at OFF (+ layer * STRIDE), heads 0..HEADS-1 (the q heads then the k heads) rotated in place.
    // Launch: N * HEADS * hd/2 work-items.
    public static void apply(KernelContext ctx, FloatArray x, FloatArray consts, IntArray layer, IntArray m) {
        int n = m.get(N);
        int heads = m.get(HEADS);
        int hd = m.get(HD);
        int half = hd / 2;
        int idx = ctx.globalIdx;
        if (idx < n * heads * half) {
            int ts = m.get(T);
            int j = idx % half;
            int head = (idx / half) % heads;
            int row = idx / (half * heads);
            int t = row % ts;
            float cos = consts.get(Consts.ROPE + t * half + j);
            float sin = m.get(SIGN) * consts.get(Consts.ROPE + ts * half + t * half + j);
            int base = m.get(OFF) + layer.get(0) * m.get(STRIDE) + row * m.get(WIDTH) + head * hd + j;
            float a = x.get(base);
            float c = x.get(base + half);
            x.set(base, a * cos - c * sin);
            x.set(base + half, c * cos + a * sin);
        }
    }

    // decoding: x: one qkv row at OFF (+ layer * STRIDE) at position step[1], rotated in place; T = the table's
    // positions (m as for apply, N = 1, SIGN = 1). Launch: HEADS * hd/2 work-items.
    public static void applyAt(KernelContext ctx, FloatArray x, FloatArray consts, IntArray layer, IntArray step,
            IntArray m) {
        int heads = m.get(HEADS);
        int hd = m.get(HD);
        int half = hd / 2;
        int idx = ctx.globalIdx;
        if (idx < heads * half) {
            int ts = m.get(T);
            int j = idx % half;
            int head = idx / half;
            int t = step.get(1);
            float cos = consts.get(Consts.ROPE + t * half + j);
            float sin = consts.get(Consts.ROPE + ts * half + t * half + j);
            int base = m.get(OFF) + layer.get(0) * m.get(STRIDE) + head * hd + j;
            float a = x.get(base);
            float c = x.get(base + half);
            x.set(base, a * cos - c * sin);
            x.set(base + half, c * cos + a * sin);
        }
    }
}
