package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Linear layer out = inp W^T + b with W stored (OC, C) like nn.Linear, and its two backward products.
 *
 * <p>All three products are register-tiled: each work-item computes a TILE x TILE block of outputs, so every value it
 * loads is used TILE times from registers. On a CPU OpenCL device (PoCL) that is what keeps the loop compute-bound;
 * local-memory tiles give no gain there, and on a GPU this shape still coalesces because neighbouring work-items
 * (x) take neighbouring output columns. Edge tiles clamp their loads and guard their stores, so any N, C, OC works
 * with a grid padded to the local size.
 *
 * <ul>
 * <li>forward: out (N,OC) = inp (N,C) W^T + b; inp and out in {@code act}.</li>
 * <li>backwardInput: dinp (N,C) = or += dout (N,OC) W; both in {@code dact}.</li>
 * <li>backwardWeight: dW (OC,C) = dout^T inp, written into {@code g}.</li>
 * <li>backwardBias: db (OC) = sum over rows of dout.</li>
 * <li>transposeWeight + backwardInputTransposed: the input gradient of the output head.</li>
 * </ul>
 */
public final class MatmulKernels {
    /** Outputs per work-item along each grid dimension. */
    public static final int TILE = 4;
    /** Columns per work-item of {@link #backwardInput}. */
    public static final int WIDE = 8;
    /** Side of the square each work-item of {@link #transposeWeight} moves. */
    public static final int BLOCK = 8;

    // forward args
    public static final int F_OUT = 0, F_IN = 1, F_W = 2, F_B = 3, F_ASTRIDE = 4, F_PSTRIDE = 5, F_N = 6, F_C = 7,
            F_OC = 8;
    // backwardInput args
    public static final int BI_DIN = 0, BI_DOUT = 1, BI_W = 2, BI_PSTRIDE = 3, BI_N = 4, BI_C = 5, BI_OC = 6,
            BI_ACC = 7;
    // backwardWeight args
    public static final int BW_W = 0, BW_DOUT = 1, BW_IN = 2, BW_ASTRIDE = 3, BW_PSTRIDE = 4, BW_N = 5, BW_C = 6,
            BW_OC = 7;
    // backwardBias args
    public static final int BB_B = 0, BB_DOUT = 1, BB_PSTRIDE = 2, BB_N = 3, BB_OC = 4;

    private MatmulKernels() {
    }

    // act: inp (N,C) -> out (N,OC); p: W (OC,C), b (OC) or F_B < 0.
    // Launch: x over ceil(OC/TILE), y over ceil(N/TILE) work-items.
    public static void forward(KernelContext ctx, FloatArray act, FloatArray p, IntArray layer, IntArray m) {
        int n = m.get(F_N);
        int c = m.get(F_C);
        int oc = m.get(F_OC);
        int o0 = ctx.globalIdx * TILE;
        int r0 = ctx.globalIdy * TILE;
        if (o0 < oc && r0 < n) {
            int l = layer.get(0);
            int aOff = l * m.get(F_ASTRIDE);
            int pOff = l * m.get(F_PSTRIDE);
            int in = m.get(F_IN) + aOff;
            int w = m.get(F_W) + pOff;
            // rows and columns past the edge re-read the last valid one; their results are dropped below
            int o1 = Math.min(o0 + 1, oc - 1);
            int o2 = Math.min(o0 + 2, oc - 1);
            int o3 = Math.min(o0 + 3, oc - 1);
            int r1 = Math.min(r0 + 1, n - 1);
            int r2 = Math.min(r0 + 2, n - 1);
            int r3 = Math.min(r0 + 3, n - 1);
            float a00 = 0f, a01 = 0f, a02 = 0f, a03 = 0f;
            float a10 = 0f, a11 = 0f, a12 = 0f, a13 = 0f;
            float a20 = 0f, a21 = 0f, a22 = 0f, a23 = 0f;
            float a30 = 0f, a31 = 0f, a32 = 0f, a33 = 0f;
            for (int i = 0; i < c; i++) {
                float x0 = act.get(in + r0 * c + i);
                float x1 = act.get(in + r1 * c + i);
                float x2 = act.get(in + r2 * c + i);
                float x3 = act.get(in + r3 * c + i);
                float w0 = p.get(w + o0 * c + i);
                float w1 = p.get(w + o1 * c + i);
                float w2 = p.get(w + o2 * c + i);
                float w3 = p.get(w + o3 * c + i);
                a00 += x0 * w0; a01 += x0 * w1; a02 += x0 * w2; a03 += x0 * w3;
                a10 += x1 * w0; a11 += x1 * w1; a12 += x1 * w2; a13 += x1 * w3;
                a20 += x2 * w0; a21 += x2 * w1; a22 += x2 * w2; a23 += x2 * w3;
                a30 += x3 * w0; a31 += x3 * w1; a32 += x3 * w2; a33 += x3 * w3;
            }
            int bOff = m.get(F_B);
            float b0 = 0f, b1 = 0f, b2 = 0f, b3 = 0f;
            if (bOff >= 0) {
                b0 = p.get(bOff + pOff + o0);
                b1 = p.get(bOff + pOff + o1);
                b2 = p.get(bOff + pOff + o2);
                b3 = p.get(bOff + pOff + o3);
            }
            int out = m.get(F_OUT) + aOff;
            store4(act, out + r0 * oc, o0, oc, a00 + b0, a01 + b1, a02 + b2, a03 + b3);
            if (r0 + 1 < n) {
                store4(act, out + r1 * oc, o0, oc, a10 + b0, a11 + b1, a12 + b2, a13 + b3);
            }
            if (r0 + 2 < n) {
                store4(act, out + r2 * oc, o0, oc, a20 + b0, a21 + b1, a22 + b2, a23 + b3);
            }
            if (r0 + 3 < n) {
                store4(act, out + r3 * oc, o0, oc, a30 + b0, a31 + b1, a32 + b2, a33 + b3);
            }
        }
    }

    /** Stores up to four consecutive values of a row at columns c0.., dropping those at or past {@code limit}. */
    private static void store4(FloatArray a, int row, int c0, int limit, float v0, float v1, float v2, float v3) {
        a.set(row + c0, v0);
        if (c0 + 1 < limit) {
            a.set(row + c0 + 1, v1);
        }
        if (c0 + 2 < limit) {
            a.set(row + c0 + 2, v2);
        }
        if (c0 + 3 < limit) {
            a.set(row + c0 + 3, v3);
        }
    }

    /** Like {@link #store4} but adds to what is there when {@code acc} is set. */
    private static void update4(FloatArray a, int row, int c0, int limit, int acc, float v0, float v1, float v2,
            float v3) {
        if (acc != 0) {
            a.set(row + c0, a.get(row + c0) + v0);
            if (c0 + 1 < limit) {
                a.set(row + c0 + 1, a.get(row + c0 + 1) + v1);
            }
            if (c0 + 2 < limit) {
                a.set(row + c0 + 2, a.get(row + c0 + 2) + v2);
            }
            if (c0 + 3 < limit) {
                a.set(row + c0 + 3, a.get(row + c0 + 3) + v3);
            }
        } else {
            store4(a, row, c0, limit, v0, v1, v2, v3);
        }
    }

    // dact: dout (N,OC) -> dinp (N,C) = or += dout W; p: W (OC,C).
    // Each work-item takes TILE rows and WIDE consecutive columns: the loop walks down W's rows (stride C), so a wider
    // strip uses more of every cache line it pulls in; with TILE columns the head's backward (OC = vocabulary) was
    // bound by re-reading W.
    // Launch: x over ceil(C/WIDE), y over ceil(N/TILE) work-items.
    public static void backwardInput(KernelContext ctx, FloatArray dact, FloatArray p, IntArray layer, IntArray m) {
        int n = m.get(BI_N);
        int c = m.get(BI_C);
        int oc = m.get(BI_OC);
        int i0 = ctx.globalIdx * WIDE;
        int r0 = ctx.globalIdy * TILE;
        if (i0 < c && r0 < n) {
            int w = m.get(BI_W) + layer.get(0) * m.get(BI_PSTRIDE);
            int dout = m.get(BI_DOUT);
            int i1 = Math.min(i0 + 1, c - 1);
            int i2 = Math.min(i0 + 2, c - 1);
            int i3 = Math.min(i0 + 3, c - 1);
            int i4 = Math.min(i0 + 4, c - 1);
            int i5 = Math.min(i0 + 5, c - 1);
            int i6 = Math.min(i0 + 6, c - 1);
            int i7 = Math.min(i0 + 7, c - 1);
            int d0 = dout + r0 * oc;
            int d1 = dout + Math.min(r0 + 1, n - 1) * oc;
            int d2 = dout + Math.min(r0 + 2, n - 1) * oc;
            int d3 = dout + Math.min(r0 + 3, n - 1) * oc;
            float a00 = 0f, a01 = 0f, a02 = 0f, a03 = 0f, a04 = 0f, a05 = 0f, a06 = 0f, a07 = 0f;
            float a10 = 0f, a11 = 0f, a12 = 0f, a13 = 0f, a14 = 0f, a15 = 0f, a16 = 0f, a17 = 0f;
            float a20 = 0f, a21 = 0f, a22 = 0f, a23 = 0f, a24 = 0f, a25 = 0f, a26 = 0f, a27 = 0f;
            float a30 = 0f, a31 = 0f, a32 = 0f, a33 = 0f, a34 = 0f, a35 = 0f, a36 = 0f, a37 = 0f;
            for (int o = 0; o < oc; o++) {
                int wr = w + o * c;
                float w0 = p.get(wr + i0);
                float w1 = p.get(wr + i1);
                float w2 = p.get(wr + i2);
                float w3 = p.get(wr + i3);
                float w4 = p.get(wr + i4);
                float w5 = p.get(wr + i5);
                float w6 = p.get(wr + i6);
                float w7 = p.get(wr + i7);
                float x0 = dact.get(d0 + o);
                float x1 = dact.get(d1 + o);
                float x2 = dact.get(d2 + o);
                float x3 = dact.get(d3 + o);
                a00 += x0 * w0; a01 += x0 * w1; a02 += x0 * w2; a03 += x0 * w3; a04 += x0 * w4; a05 += x0 * w5; a06 += x0 * w6; a07 += x0 * w7;
                a10 += x1 * w0; a11 += x1 * w1; a12 += x1 * w2; a13 += x1 * w3; a14 += x1 * w4; a15 += x1 * w5; a16 += x1 * w6; a17 += x1 * w7;
                a20 += x2 * w0; a21 += x2 * w1; a22 += x2 * w2; a23 += x2 * w3; a24 += x2 * w4; a25 += x2 * w5; a26 += x2 * w6; a27 += x2 * w7;
                a30 += x3 * w0; a31 += x3 * w1; a32 += x3 * w2; a33 += x3 * w3; a34 += x3 * w4; a35 += x3 * w5; a36 += x3 * w6; a37 += x3 * w7;
            }
            int din = m.get(BI_DIN);
            int acc = m.get(BI_ACC);
            update8(dact, din + r0 * c, i0, c, acc, a00, a01, a02, a03, a04, a05, a06, a07);
            if (r0 + 1 < n) {
                update8(dact, din + (r0 + 1) * c, i0, c, acc, a10, a11, a12, a13, a14, a15, a16, a17);
            }
            if (r0 + 2 < n) {
                update8(dact, din + (r0 + 2) * c, i0, c, acc, a20, a21, a22, a23, a24, a25, a26, a27);
            }
            if (r0 + 3 < n) {
                update8(dact, din + (r0 + 3) * c, i0, c, acc, a30, a31, a32, a33, a34, a35, a36, a37);
            }
        }
    }

    /** update4 over eight consecutive columns. */
    private static void update8(FloatArray a, int row, int c0, int limit, int acc, float v0, float v1, float v2,
            float v3, float v4, float v5, float v6, float v7) {
        update4(a, row, c0, limit, acc, v0, v1, v2, v3);
        if (c0 + 4 < limit) {
            update4(a, row, c0 + 4, limit, acc, v4, v5, v6, v7);
        }
    }

    // p: W (OC,C) -> dact: WT (C,OC), m = [wT, w, C, OC]. Each work-item moves a BLOCK x BLOCK square, so both its
    // reads and its writes touch whole runs of consecutive floats (one element per work-item made every read a
    // separate cache line). Launch: x over ceil(C/BLOCK), y over ceil(OC/BLOCK) work-items.
    public static void transposeWeight(KernelContext ctx, FloatArray dact, FloatArray p, IntArray m) {
        int c = m.get(2);
        int oc = m.get(3);
        int i0 = ctx.globalIdx * BLOCK;
        int o0 = ctx.globalIdy * BLOCK;
        int wt = m.get(0);
        int w = m.get(1);
        for (int a = 0; a < BLOCK; a++) {
            int o = o0 + a;
            for (int b = 0; b < BLOCK; b++) {
                int i = i0 + b;
                if (o < oc && i < c) {
                    dact.set(wt + i * oc + o, p.get(w + o * c + i));
                }
            }
        }
    }

    // dact: dout (N,OC), WT (C,OC) -> dinp (N,C) = dout WT^T, m = [dinp, dout, wT, N, C, OC].
    // The input gradient of a very wide layer (the output head, OC = vocabulary): with W transposed both operands
    // are contiguous along the reduction, like the forward product, instead of walking W down its columns.
    // Launch: x over ceil(C/TILE), y over ceil(N/TILE) work-items.
    public static void backwardInputTransposed(KernelContext ctx, FloatArray dact, IntArray m) {
        int n = m.get(3);
        int c = m.get(4);
        int oc = m.get(5);
        int i0 = ctx.globalIdx * TILE;
        int r0 = ctx.globalIdy * TILE;
        if (i0 < c && r0 < n) {
            int dout = m.get(1);
            int wt = m.get(2);
            int x0 = dout + r0 * oc;
            int x1 = dout + Math.min(r0 + 1, n - 1) * oc;
            int x2 = dout + Math.min(r0 + 2, n - 1) * oc;
            int x3 = dout + Math.min(r0 + 3, n - 1) * oc;
            int w0 = wt + i0 * oc;
            int w1 = wt + Math.min(i0 + 1, c - 1) * oc;
            int w2 = wt + Math.min(i0 + 2, c - 1) * oc;
            int w3 = wt + Math.min(i0 + 3, c - 1) * oc;
            float a00 = 0f, a01 = 0f, a02 = 0f, a03 = 0f;
            float a10 = 0f, a11 = 0f, a12 = 0f, a13 = 0f;
            float a20 = 0f, a21 = 0f, a22 = 0f, a23 = 0f;
            float a30 = 0f, a31 = 0f, a32 = 0f, a33 = 0f;
            for (int o = 0; o < oc; o++) {
                float d0 = dact.get(x0 + o);
                float d1 = dact.get(x1 + o);
                float d2 = dact.get(x2 + o);
                float d3 = dact.get(x3 + o);
                float v0 = dact.get(w0 + o);
                float v1 = dact.get(w1 + o);
                float v2 = dact.get(w2 + o);
                float v3 = dact.get(w3 + o);
                a00 += d0 * v0; a01 += d0 * v1; a02 += d0 * v2; a03 += d0 * v3;
                a10 += d1 * v0; a11 += d1 * v1; a12 += d1 * v2; a13 += d1 * v3;
                a20 += d2 * v0; a21 += d2 * v1; a22 += d2 * v2; a23 += d2 * v3;
                a30 += d3 * v0; a31 += d3 * v1; a32 += d3 * v2; a33 += d3 * v3;
            }
            int din = m.get(0);
            store4(dact, din + r0 * c, i0, c, a00, a01, a02, a03);
            if (r0 + 1 < n) {
                store4(dact, din + (r0 + 1) * c, i0, c, a10, a11, a12, a13);
            }
            if (r0 + 2 < n) {
                store4(dact, din + (r0 + 2) * c, i0, c, a20, a21, a22, a23);
            }
            if (r0 + 3 < n) {
                store4(dact, din + (r0 + 3) * c, i0, c, a30, a31, a32, a33);
            }
        }
    }

    // dact: dout (N,OC), act: inp (N,C) -> g: dW (OC,C) = dout^T inp.
    // Launch: x over ceil(C/TILE), y over ceil(OC/TILE) work-items.
    public static void backwardWeight(KernelContext ctx, FloatArray g, FloatArray dact, FloatArray act, IntArray layer,
            IntArray m) {
        int n = m.get(BW_N);
        int c = m.get(BW_C);
        int oc = m.get(BW_OC);
        int i0 = ctx.globalIdx * TILE;
        int o0 = ctx.globalIdy * TILE;
        if (i0 < c && o0 < oc) {
            int l = layer.get(0);
            int in = m.get(BW_IN) + l * m.get(BW_ASTRIDE);
            int dout = m.get(BW_DOUT);
            int i1 = Math.min(i0 + 1, c - 1);
            int i2 = Math.min(i0 + 2, c - 1);
            int i3 = Math.min(i0 + 3, c - 1);
            int o1 = Math.min(o0 + 1, oc - 1);
            int o2 = Math.min(o0 + 2, oc - 1);
            int o3 = Math.min(o0 + 3, oc - 1);
            float a00 = 0f, a01 = 0f, a02 = 0f, a03 = 0f;
            float a10 = 0f, a11 = 0f, a12 = 0f, a13 = 0f;
            float a20 = 0f, a21 = 0f, a22 = 0f, a23 = 0f;
            float a30 = 0f, a31 = 0f, a32 = 0f, a33 = 0f;
            for (int r = 0; r < n; r++) {
                int dr = dout + r * oc;
                float d0 = dact.get(dr + o0);
                float d1 = dact.get(dr + o1);
                float d2 = dact.get(dr + o2);
                float d3 = dact.get(dr + o3);
                int xr = in + r * c;
                float x0 = act.get(xr + i0);
                float x1 = act.get(xr + i1);
                float x2 = act.get(xr + i2);
                float x3 = act.get(xr + i3);
                a00 += d0 * x0; a01 += d0 * x1; a02 += d0 * x2; a03 += d0 * x3;
                a10 += d1 * x0; a11 += d1 * x1; a12 += d1 * x2; a13 += d1 * x3;
                a20 += d2 * x0; a21 += d2 * x1; a22 += d2 * x2; a23 += d2 * x3;
                a30 += d3 * x0; a31 += d3 * x1; a32 += d3 * x2; a33 += d3 * x3;
            }
            int w = m.get(BW_W) + l * m.get(BW_PSTRIDE);
            store4(g, w + o0 * c, i0, c, a00, a01, a02, a03);
            if (o0 + 1 < oc) {
                store4(g, w + o1 * c, i0, c, a10, a11, a12, a13);
            }
            if (o0 + 2 < oc) {
                store4(g, w + o2 * c, i0, c, a20, a21, a22, a23);
            }
            if (o0 + 3 < oc) {
                store4(g, w + o3 * c, i0, c, a30, a31, a32, a33);
            }
        }
    }

    // dact: dout (N,OC) -> g: db (OC) = sum_n dout. Launch: OC work-items.
    public static void backwardBias(KernelContext ctx, FloatArray g, FloatArray dact, IntArray layer, IntArray m) {
        int o = ctx.globalIdx;
        int n = m.get(BB_N);
        int oc = m.get(BB_OC);
        if (o < oc) {
            int dout = m.get(BB_DOUT);
            float s = 0f;
            for (int r = 0; r < n; r++) {
                s += dact.get(dout + r * oc + o);
            }
            g.set(m.get(BB_B) + layer.get(0) * m.get(BB_PSTRIDE) + o, s);
        }
    }
}
