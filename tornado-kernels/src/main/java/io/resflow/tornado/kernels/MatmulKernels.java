package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;
import uk.ac.manchester.tornado.api.types.vectors.Float8;

/**
 * Linear layer out = inp W^T + b with W stored (OC, C) like nn.Linear, and its backward products.
 *
 * <p>All three products run as the same shape, C = A B^T with both A and B read along their rows (the reduction
 * dimension contiguous in memory):
 * <ul>
 * <li>{@link #forward}: out (N,OC) = inp (N,C) W^T + b;</li>
 * <li>{@link #backwardInput}: dinp (N,C) = or += dout (N,OC) (W^T)^T, with W^T (C,OC) made by
 * {@link #transposeWeight};</li>
 * <li>{@link #backwardWeight}: dW (OC,C) = dout^T (OC,N) (inp^T)^T, both made by {@link #transposeActivation} /
 * {@link #transposeScratch};</li>
 * <li>{@link #backwardBias}: db (OC) = sum over rows of dout.</li>
 * </ul>
 * Each work-item computes a 4 x 4 block of C from eight-wide {@link Float8} partial sums, so every value loaded is
 * used four times from registers and the arithmetic is explicit SIMD: a CPU OpenCL device (PoCL) does not vectorise
 * a loop inside a work-item by itself (measured on GPT-2's MLP: 12 GFLOP/s scalar, 66 GFLOP/s with Float8); a GPU
 * splits the vectors into lanes. Reading W down its columns instead (no transpose) was 4x slower at OC = vocabulary;
 * the transposes are blocked 8 x 8 per work-item and cost a few percent. Edge blocks clamp their loads and guard their
 * stores, and a scalar tail handles lengths that are not a multiple of 8.
 *
 * <p>bf16 ({@code io.resflow.engine.Precision}): {@link #forwardBf16} and {@link #transposeWeightBf16} read the weight
 * (and the bias) from the 16-bit copy of the parameters, widening each value as they load it
 * ({@link Bf16Kernels#widen}); the backward products then read the transposed copy, already fp32 (the bf16 values
 * exactly). Everything accumulates in fp32 as in fp32 mode.
 */
public final class MatmulKernels {
    /** Outputs per work-item along each grid dimension of the products. */
    public static final int TILE = 4;
    /** Side of the square each work-item of a transpose moves. */
    public static final int BLOCK = 8;

    // forward args
    public static final int F_OUT = 0, F_IN = 1, F_W = 2, F_B = 3, F_ASTRIDE = 4, F_PSTRIDE = 5, F_N = 6, F_C = 7,
            F_OC = 8;
    // backwardInput args: dinp (N,C) = or += dout (N,OC) wT (C,OC)^T, all in dact
    public static final int BI_DIN = 0, BI_DOUT = 1, BI_WT = 2, BI_N = 3, BI_C = 4, BI_OC = 5, BI_ACC = 6;
    // backwardWeight args: g[W (OC,C)] = doutT (OC,N) xT (C,N)^T, operands in dact
    public static final int BW_W = 0, BW_DOUTT = 1, BW_XT = 2, BW_PSTRIDE = 3, BW_N = 4, BW_C = 5, BW_OC = 6;
    // backwardBias args
    public static final int BB_B = 0, BB_DOUT = 1, BB_PSTRIDE = 2, BB_N = 3, BB_OC = 4;
    // transpose args: src (R,K) -> dst (K,R); STRIDE is the layer stride of the source (act or p)
    public static final int T_DST = 0, T_SRC = 1, T_STRIDE = 2, T_R = 3, T_K = 4;

    private MatmulKernels() {
    }

    private static Float8 load8(FloatArray a, int i) {
        return new Float8(a.get(i), a.get(i + 1), a.get(i + 2), a.get(i + 3), a.get(i + 4), a.get(i + 5), a.get(i + 6),
                a.get(i + 7));
    }

    private static Float8 fma(Float8 x, Float8 y, Float8 acc) {
        return Float8.add(acc, Float8.mult(x, y));
    }

    private static float hsum(Float8 v) {
        return ((v.getS0() + v.getS4()) + (v.getS1() + v.getS5()))
                + ((v.getS2() + v.getS6()) + (v.getS3() + v.getS7()));
    }

    // act: inp (N,C); p: W (OC,C), b (OC) or F_B < 0 -> act: out (N,OC).
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
            int a0 = in + r0 * c;
            int a1 = in + Math.min(r0 + 1, n - 1) * c;
            int a2 = in + Math.min(r0 + 2, n - 1) * c;
            int a3 = in + Math.min(r0 + 3, n - 1) * c;
            int b0 = w + o0 * c;
            int b1 = w + Math.min(o0 + 1, oc - 1) * c;
            int b2 = w + Math.min(o0 + 2, oc - 1) * c;
            int b3 = w + Math.min(o0 + 3, oc - 1) * c;
            Float8 z = new Float8(0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f);
            Float8 s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            Float8 s20 = z, s21 = z, s22 = z, s23 = z, s30 = z, s31 = z, s32 = z, s33 = z;
            int k8 = c / 8 * 8;
            for (int k = 0; k < k8; k += 8) {
                Float8 x0 = load8(act, a0 + k);
                Float8 x1 = load8(act, a1 + k);
                Float8 x2 = load8(act, a2 + k);
                Float8 x3 = load8(act, a3 + k);
                Float8 y0 = load8(p, b0 + k);
                Float8 y1 = load8(p, b1 + k);
                Float8 y2 = load8(p, b2 + k);
                Float8 y3 = load8(p, b3 + k);
                s00 = fma(x0, y0, s00); s01 = fma(x0, y1, s01);
                s02 = fma(x0, y2, s02); s03 = fma(x0, y3, s03);
                s10 = fma(x1, y0, s10); s11 = fma(x1, y1, s11);
                s12 = fma(x1, y2, s12); s13 = fma(x1, y3, s13);
                s20 = fma(x2, y0, s20); s21 = fma(x2, y1, s21);
                s22 = fma(x2, y2, s22); s23 = fma(x2, y3, s23);
                s30 = fma(x3, y0, s30); s31 = fma(x3, y1, s31);
                s32 = fma(x3, y2, s32); s33 = fma(x3, y3, s33);
            }
            float v00 = hsum(s00); float v01 = hsum(s01); float v02 = hsum(s02); float v03 = hsum(s03);
            float v10 = hsum(s10); float v11 = hsum(s11); float v12 = hsum(s12); float v13 = hsum(s13);
            float v20 = hsum(s20); float v21 = hsum(s21); float v22 = hsum(s22); float v23 = hsum(s23);
            float v30 = hsum(s30); float v31 = hsum(s31); float v32 = hsum(s32); float v33 = hsum(s33);
            for (int k = k8; k < c; k++) {
                float x0 = act.get(a0 + k);
                float x1 = act.get(a1 + k);
                float x2 = act.get(a2 + k);
                float x3 = act.get(a3 + k);
                float y0 = p.get(b0 + k);
                float y1 = p.get(b1 + k);
                float y2 = p.get(b2 + k);
                float y3 = p.get(b3 + k);
                v00 += x0 * y0; v01 += x0 * y1; v02 += x0 * y2; v03 += x0 * y3;
                v10 += x1 * y0; v11 += x1 * y1; v12 += x1 * y2; v13 += x1 * y3;
                v20 += x2 * y0; v21 += x2 * y1; v22 += x2 * y2; v23 += x2 * y3;
                v30 += x3 * y0; v31 += x3 * y1; v32 += x3 * y2; v33 += x3 * y3;
            }
            int bOff = m.get(F_B);
            if (bOff >= 0) {
                int bb = bOff + pOff;
                float c0 = p.get(bb + o0);
                float c1 = p.get(bb + Math.min(o0 + 1, oc - 1));
                float c2 = p.get(bb + Math.min(o0 + 2, oc - 1));
                float c3 = p.get(bb + Math.min(o0 + 3, oc - 1));
                v00 += c0;
                v01 += c1;
                v02 += c2;
                v03 += c3;
                v10 += c0;
                v11 += c1;
                v12 += c2;
                v13 += c3;
                v20 += c0;
                v21 += c1;
                v22 += c2;
                v23 += c3;
                v30 += c0;
                v31 += c1;
                v32 += c2;
                v33 += c3;
            }
            int out = m.get(F_OUT) + aOff;
            act.set(out + r0 * oc + o0 + 0, v00);
            if (o0 + 1 < oc) {
                act.set(out + r0 * oc + o0 + 1, v01);
            }
            if (o0 + 2 < oc) {
                act.set(out + r0 * oc + o0 + 2, v02);
            }
            if (o0 + 3 < oc) {
                act.set(out + r0 * oc + o0 + 3, v03);
            }
            if (r0 + 1 < n) {
                act.set(out + (r0 + 1) * oc + o0 + 0, v10);
                if (o0 + 1 < oc) {
                    act.set(out + (r0 + 1) * oc + o0 + 1, v11);
                }
                if (o0 + 2 < oc) {
                    act.set(out + (r0 + 1) * oc + o0 + 2, v12);
                }
                if (o0 + 3 < oc) {
                    act.set(out + (r0 + 1) * oc + o0 + 3, v13);
                }
            }
            if (r0 + 2 < n) {
                act.set(out + (r0 + 2) * oc + o0 + 0, v20);
                if (o0 + 1 < oc) {
                    act.set(out + (r0 + 2) * oc + o0 + 1, v21);
                }
                if (o0 + 2 < oc) {
                    act.set(out + (r0 + 2) * oc + o0 + 2, v22);
                }
                if (o0 + 3 < oc) {
                    act.set(out + (r0 + 2) * oc + o0 + 3, v23);
                }
            }
            if (r0 + 3 < n) {
                act.set(out + (r0 + 3) * oc + o0 + 0, v30);
                if (o0 + 1 < oc) {
                    act.set(out + (r0 + 3) * oc + o0 + 1, v31);
                }
                if (o0 + 2 < oc) {
                    act.set(out + (r0 + 3) * oc + o0 + 2, v32);
                }
                if (o0 + 3 < oc) {
                    act.set(out + (r0 + 3) * oc + o0 + 3, v33);
                }
            }
        }
    }

    // dact: dout (N,OC), wT (C,OC) -> dinp (N,C), = or += (BI_ACC).
    // Launch: x over ceil(C/TILE), y over ceil(N/TILE) work-items.
    public static void backwardInput(KernelContext ctx, FloatArray dact, IntArray m) {
        int n = m.get(BI_N);
        int c = m.get(BI_C);
        int oc = m.get(BI_OC);
        int i0 = ctx.globalIdx * TILE;
        int r0 = ctx.globalIdy * TILE;
        if (i0 < c && r0 < n) {
            int dout = m.get(BI_DOUT);
            int wt = m.get(BI_WT);
            int a0 = dout + r0 * oc;
            int a1 = dout + Math.min(r0 + 1, n - 1) * oc;
            int a2 = dout + Math.min(r0 + 2, n - 1) * oc;
            int a3 = dout + Math.min(r0 + 3, n - 1) * oc;
            int b0 = wt + i0 * oc;
            int b1 = wt + Math.min(i0 + 1, c - 1) * oc;
            int b2 = wt + Math.min(i0 + 2, c - 1) * oc;
            int b3 = wt + Math.min(i0 + 3, c - 1) * oc;
            Float8 z = new Float8(0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f);
            Float8 s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            Float8 s20 = z, s21 = z, s22 = z, s23 = z, s30 = z, s31 = z, s32 = z, s33 = z;
            int k8 = oc / 8 * 8;
            for (int k = 0; k < k8; k += 8) {
                Float8 x0 = load8(dact, a0 + k);
                Float8 x1 = load8(dact, a1 + k);
                Float8 x2 = load8(dact, a2 + k);
                Float8 x3 = load8(dact, a3 + k);
                Float8 y0 = load8(dact, b0 + k);
                Float8 y1 = load8(dact, b1 + k);
                Float8 y2 = load8(dact, b2 + k);
                Float8 y3 = load8(dact, b3 + k);
                s00 = fma(x0, y0, s00); s01 = fma(x0, y1, s01);
                s02 = fma(x0, y2, s02); s03 = fma(x0, y3, s03);
                s10 = fma(x1, y0, s10); s11 = fma(x1, y1, s11);
                s12 = fma(x1, y2, s12); s13 = fma(x1, y3, s13);
                s20 = fma(x2, y0, s20); s21 = fma(x2, y1, s21);
                s22 = fma(x2, y2, s22); s23 = fma(x2, y3, s23);
                s30 = fma(x3, y0, s30); s31 = fma(x3, y1, s31);
                s32 = fma(x3, y2, s32); s33 = fma(x3, y3, s33);
            }
            float v00 = hsum(s00); float v01 = hsum(s01); float v02 = hsum(s02); float v03 = hsum(s03);
            float v10 = hsum(s10); float v11 = hsum(s11); float v12 = hsum(s12); float v13 = hsum(s13);
            float v20 = hsum(s20); float v21 = hsum(s21); float v22 = hsum(s22); float v23 = hsum(s23);
            float v30 = hsum(s30); float v31 = hsum(s31); float v32 = hsum(s32); float v33 = hsum(s33);
            for (int k = k8; k < oc; k++) {
                float x0 = dact.get(a0 + k);
                float x1 = dact.get(a1 + k);
                float x2 = dact.get(a2 + k);
                float x3 = dact.get(a3 + k);
                float y0 = dact.get(b0 + k);
                float y1 = dact.get(b1 + k);
                float y2 = dact.get(b2 + k);
                float y3 = dact.get(b3 + k);
                v00 += x0 * y0; v01 += x0 * y1; v02 += x0 * y2; v03 += x0 * y3;
                v10 += x1 * y0; v11 += x1 * y1; v12 += x1 * y2; v13 += x1 * y3;
                v20 += x2 * y0; v21 += x2 * y1; v22 += x2 * y2; v23 += x2 * y3;
                v30 += x3 * y0; v31 += x3 * y1; v32 += x3 * y2; v33 += x3 * y3;
            }
            int din = m.get(BI_DIN);
            int acc = m.get(BI_ACC);
            dact.set(din + r0 * c + i0 + 0, acc != 0 ? dact.get(din + r0 * c + i0 + 0) + v00 : v00);
            if (i0 + 1 < c) {
                dact.set(din + r0 * c + i0 + 1, acc != 0 ? dact.get(din + r0 * c + i0 + 1) + v01 : v01);
            }
            if (i0 + 2 < c) {
                dact.set(din + r0 * c + i0 + 2, acc != 0 ? dact.get(din + r0 * c + i0 + 2) + v02 : v02);
            }
            if (i0 + 3 < c) {
                dact.set(din + r0 * c + i0 + 3, acc != 0 ? dact.get(din + r0 * c + i0 + 3) + v03 : v03);
            }
            if (r0 + 1 < n) {
                dact.set(din + (r0 + 1) * c + i0 + 0, acc != 0 ? dact.get(din + (r0 + 1) * c + i0 + 0) + v10 : v10);
                if (i0 + 1 < c) {
                    dact.set(din + (r0 + 1) * c + i0 + 1, acc != 0 ? dact.get(din + (r0 + 1) * c + i0 + 1) + v11 : v11);
                }
                if (i0 + 2 < c) {
                    dact.set(din + (r0 + 1) * c + i0 + 2, acc != 0 ? dact.get(din + (r0 + 1) * c + i0 + 2) + v12 : v12);
                }
                if (i0 + 3 < c) {
                    dact.set(din + (r0 + 1) * c + i0 + 3, acc != 0 ? dact.get(din + (r0 + 1) * c + i0 + 3) + v13 : v13);
                }
            }
            if (r0 + 2 < n) {
                dact.set(din + (r0 + 2) * c + i0 + 0, acc != 0 ? dact.get(din + (r0 + 2) * c + i0 + 0) + v20 : v20);
                if (i0 + 1 < c) {
                    dact.set(din + (r0 + 2) * c + i0 + 1, acc != 0 ? dact.get(din + (r0 + 2) * c + i0 + 1) + v21 : v21);
                }
                if (i0 + 2 < c) {
                    dact.set(din + (r0 + 2) * c + i0 + 2, acc != 0 ? dact.get(din + (r0 + 2) * c + i0 + 2) + v22 : v22);
                }
                if (i0 + 3 < c) {
                    dact.set(din + (r0 + 2) * c + i0 + 3, acc != 0 ? dact.get(din + (r0 + 2) * c + i0 + 3) + v23 : v23);
                }
            }
            if (r0 + 3 < n) {
                dact.set(din + (r0 + 3) * c + i0 + 0, acc != 0 ? dact.get(din + (r0 + 3) * c + i0 + 0) + v30 : v30);
                if (i0 + 1 < c) {
                    dact.set(din + (r0 + 3) * c + i0 + 1, acc != 0 ? dact.get(din + (r0 + 3) * c + i0 + 1) + v31 : v31);
                }
                if (i0 + 2 < c) {
                    dact.set(din + (r0 + 3) * c + i0 + 2, acc != 0 ? dact.get(din + (r0 + 3) * c + i0 + 2) + v32 : v32);
                }
                if (i0 + 3 < c) {
                    dact.set(din + (r0 + 3) * c + i0 + 3, acc != 0 ? dact.get(din + (r0 + 3) * c + i0 + 3) + v33 : v33);
                }
            }
        }
    }

    // dact: doutT (OC,N), xT (C,N) -> g: dW (OC,C) = doutT xT^T (=).
    // Launch: x over ceil(C/TILE), y over ceil(OC/TILE) work-items.
    public static void backwardWeight(KernelContext ctx, FloatArray g, FloatArray dact, IntArray layer, IntArray m) {
        int n = m.get(BW_N);
        int c = m.get(BW_C);
        int oc = m.get(BW_OC);
        int i0 = ctx.globalIdx * TILE;
        int o0 = ctx.globalIdy * TILE;
        if (i0 < c && o0 < oc) {
            int dt = m.get(BW_DOUTT);
            int xt = m.get(BW_XT);
            int a0 = dt + o0 * n;
            int a1 = dt + Math.min(o0 + 1, oc - 1) * n;
            int a2 = dt + Math.min(o0 + 2, oc - 1) * n;
            int a3 = dt + Math.min(o0 + 3, oc - 1) * n;
            int b0 = xt + i0 * n;
            int b1 = xt + Math.min(i0 + 1, c - 1) * n;
            int b2 = xt + Math.min(i0 + 2, c - 1) * n;
            int b3 = xt + Math.min(i0 + 3, c - 1) * n;
            Float8 z = new Float8(0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f);
            Float8 s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            Float8 s20 = z, s21 = z, s22 = z, s23 = z, s30 = z, s31 = z, s32 = z, s33 = z;
            int k8 = n / 8 * 8;
            for (int k = 0; k < k8; k += 8) {
                Float8 x0 = load8(dact, a0 + k);
                Float8 x1 = load8(dact, a1 + k);
                Float8 x2 = load8(dact, a2 + k);
                Float8 x3 = load8(dact, a3 + k);
                Float8 y0 = load8(dact, b0 + k);
                Float8 y1 = load8(dact, b1 + k);
                Float8 y2 = load8(dact, b2 + k);
                Float8 y3 = load8(dact, b3 + k);
                s00 = fma(x0, y0, s00); s01 = fma(x0, y1, s01);
                s02 = fma(x0, y2, s02); s03 = fma(x0, y3, s03);
                s10 = fma(x1, y0, s10); s11 = fma(x1, y1, s11);
                s12 = fma(x1, y2, s12); s13 = fma(x1, y3, s13);
                s20 = fma(x2, y0, s20); s21 = fma(x2, y1, s21);
                s22 = fma(x2, y2, s22); s23 = fma(x2, y3, s23);
                s30 = fma(x3, y0, s30); s31 = fma(x3, y1, s31);
                s32 = fma(x3, y2, s32); s33 = fma(x3, y3, s33);
            }
            float v00 = hsum(s00); float v01 = hsum(s01); float v02 = hsum(s02); float v03 = hsum(s03);
            float v10 = hsum(s10); float v11 = hsum(s11); float v12 = hsum(s12); float v13 = hsum(s13);
            float v20 = hsum(s20); float v21 = hsum(s21); float v22 = hsum(s22); float v23 = hsum(s23);
            float v30 = hsum(s30); float v31 = hsum(s31); float v32 = hsum(s32); float v33 = hsum(s33);
            for (int k = k8; k < n; k++) {
                float x0 = dact.get(a0 + k);
                float x1 = dact.get(a1 + k);
                float x2 = dact.get(a2 + k);
                float x3 = dact.get(a3 + k);
                float y0 = dact.get(b0 + k);
                float y1 = dact.get(b1 + k);
                float y2 = dact.get(b2 + k);
                float y3 = dact.get(b3 + k);
                v00 += x0 * y0; v01 += x0 * y1; v02 += x0 * y2; v03 += x0 * y3;
                v10 += x1 * y0; v11 += x1 * y1; v12 += x1 * y2; v13 += x1 * y3;
                v20 += x2 * y0; v21 += x2 * y1; v22 += x2 * y2; v23 += x2 * y3;
                v30 += x3 * y0; v31 += x3 * y1; v32 += x3 * y2; v33 += x3 * y3;
            }
            int w = m.get(BW_W) + layer.get(0) * m.get(BW_PSTRIDE);
            g.set(w + o0 * c + i0 + 0, v00);
            if (i0 + 1 < c) {
                g.set(w + o0 * c + i0 + 1, v01);
            }
            if (i0 + 2 < c) {
                g.set(w + o0 * c + i0 + 2, v02);
            }
            if (i0 + 3 < c) {
                g.set(w + o0 * c + i0 + 3, v03);
            }
            if (o0 + 1 < oc) {
                g.set(w + (o0 + 1) * c + i0 + 0, v10);
                if (i0 + 1 < c) {
                    g.set(w + (o0 + 1) * c + i0 + 1, v11);
                }
                if (i0 + 2 < c) {
                    g.set(w + (o0 + 1) * c + i0 + 2, v12);
                }
                if (i0 + 3 < c) {
                    g.set(w + (o0 + 1) * c + i0 + 3, v13);
                }
            }
            if (o0 + 2 < oc) {
                g.set(w + (o0 + 2) * c + i0 + 0, v20);
                if (i0 + 1 < c) {
                    g.set(w + (o0 + 2) * c + i0 + 1, v21);
                }
                if (i0 + 2 < c) {
                    g.set(w + (o0 + 2) * c + i0 + 2, v22);
                }
                if (i0 + 3 < c) {
                    g.set(w + (o0 + 2) * c + i0 + 3, v23);
                }
            }
            if (o0 + 3 < oc) {
                g.set(w + (o0 + 3) * c + i0 + 0, v30);
                if (i0 + 1 < c) {
                    g.set(w + (o0 + 3) * c + i0 + 1, v31);
                }
                if (i0 + 2 < c) {
                    g.set(w + (o0 + 3) * c + i0 + 2, v32);
                }
                if (i0 + 3 < c) {
                    g.set(w + (o0 + 3) * c + i0 + 3, v33);
                }
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

    // p: W (OC,C) of layer l -> dact: WT (C,OC). Args: [dst, src, pStride, OC, C].
    // Launch: x over ceil(C/BLOCK), y over ceil(OC/BLOCK) work-items.
    public static void transposeWeight(KernelContext ctx, FloatArray dact, FloatArray p, IntArray layer, IntArray m) {
        int rows = m.get(T_R);
        int cols = m.get(T_K);
        int k0 = ctx.globalIdx * BLOCK;
        int r0 = ctx.globalIdy * BLOCK;
        int src = m.get(T_SRC) + layer.get(0) * m.get(T_STRIDE);
        int dst = m.get(T_DST);
        for (int a = 0; a < BLOCK; a++) {
            for (int b = 0; b < BLOCK; b++) {
                int r = r0 + a;
                int k = k0 + b;
                if (r < rows && k < cols) {
                    dact.set(dst + k * rows + r, p.get(src + r * cols + k));
                }
            }
        }
    }

    // act: X (R,K) of layer l -> dact: XT (K,R). Args: [dst, src, aStride, R, K]. Launch as transposeWeight.
    public static void transposeActivation(KernelContext ctx, FloatArray dact, FloatArray act, IntArray layer,
            IntArray m) {
        int rows = m.get(T_R);
        int cols = m.get(T_K);
        int k0 = ctx.globalIdx * BLOCK;
        int r0 = ctx.globalIdy * BLOCK;
        int src = m.get(T_SRC) + layer.get(0) * m.get(T_STRIDE);
        int dst = m.get(T_DST);
        for (int a = 0; a < BLOCK; a++) {
            for (int b = 0; b < BLOCK; b++) {
                int r = r0 + a;
                int k = k0 + b;
                if (r < rows && k < cols) {
                    dact.set(dst + k * rows + r, act.get(src + r * cols + k));
                }
            }
        }
    }

    // dact: X (R,K) -> dact: XT (K,R), disjoint regions. Args: [dst, src, unused, R, K]. Launch as transposeWeight.
    public static void transposeScratch(KernelContext ctx, FloatArray dact, IntArray m) {
        int rows = m.get(T_R);
        int cols = m.get(T_K);
        int k0 = ctx.globalIdx * BLOCK;
        int r0 = ctx.globalIdy * BLOCK;
        int src = m.get(T_SRC);
        int dst = m.get(T_DST);
        for (int a = 0; a < BLOCK; a++) {
            for (int b = 0; b < BLOCK; b++) {
                int r = r0 + a;
                int k = k0 + b;
                if (r < rows && k < cols) {
                    dact.set(dst + k * rows + r, dact.get(src + r * cols + k));
                }
            }
        }
    }

    // ---------------------------------------------------------------- bf16 weights

    private static Float8 load8(ShortArray w, FloatArray pow2, int i) {
        return new Float8(Bf16Kernels.widen(w.get(i), pow2), Bf16Kernels.widen(w.get(i + 1), pow2),
                Bf16Kernels.widen(w.get(i + 2), pow2), Bf16Kernels.widen(w.get(i + 3), pow2),
                Bf16Kernels.widen(w.get(i + 4), pow2), Bf16Kernels.widen(w.get(i + 5), pow2),
                Bf16Kernels.widen(w.get(i + 6), pow2), Bf16Kernels.widen(w.get(i + 7), pow2));
    }

    /** Row r of a 4 x 4 block: columns o0 .. o0+3 of out (n, oc), those inside. */
    private static void storeRow(FloatArray act, int out, int r, int o0, int n, int oc, float v0, float v1, float v2,
            float v3) {
        if (r < n) {
            act.set(out + r * oc + o0, v0);
            if (o0 + 1 < oc) {
                act.set(out + r * oc + o0 + 1, v1);
            }
            if (o0 + 2 < oc) {
                act.set(out + r * oc + o0 + 2, v2);
            }
            if (o0 + 3 < oc) {
                act.set(out + r * oc + o0 + 3, v3);
            }
        }
    }

    // act: inp (N,C); w16: bf16 W (OC,C), b (OC) or F_B < 0 -> act: out (N,OC), as forward with W and b widened from
    // their 16-bit copy (pow2: the widening table). Launch as forward.
    public static void forwardBf16(KernelContext ctx, FloatArray act, ShortArray w16, FloatArray pow2, IntArray layer,
            IntArray m) {
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
            int a0 = in + r0 * c;
            int a1 = in + Math.min(r0 + 1, n - 1) * c;
            int a2 = in + Math.min(r0 + 2, n - 1) * c;
            int a3 = in + Math.min(r0 + 3, n - 1) * c;
            int b0 = w + o0 * c;
            int b1 = w + Math.min(o0 + 1, oc - 1) * c;
            int b2 = w + Math.min(o0 + 2, oc - 1) * c;
            int b3 = w + Math.min(o0 + 3, oc - 1) * c;
            Float8 z = new Float8(0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f);
            Float8 s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
            Float8 s20 = z, s21 = z, s22 = z, s23 = z, s30 = z, s31 = z, s32 = z, s33 = z;
            int k8 = c / 8 * 8;
            for (int k = 0; k < k8; k += 8) {
                Float8 x0 = load8(act, a0 + k);
                Float8 x1 = load8(act, a1 + k);
                Float8 x2 = load8(act, a2 + k);
                Float8 x3 = load8(act, a3 + k);
                Float8 y0 = load8(w16, pow2, b0 + k);
                Float8 y1 = load8(w16, pow2, b1 + k);
                Float8 y2 = load8(w16, pow2, b2 + k);
                Float8 y3 = load8(w16, pow2, b3 + k);
                s00 = fma(x0, y0, s00); s01 = fma(x0, y1, s01);
                s02 = fma(x0, y2, s02); s03 = fma(x0, y3, s03);
                s10 = fma(x1, y0, s10); s11 = fma(x1, y1, s11);
                s12 = fma(x1, y2, s12); s13 = fma(x1, y3, s13);
                s20 = fma(x2, y0, s20); s21 = fma(x2, y1, s21);
                s22 = fma(x2, y2, s22); s23 = fma(x2, y3, s23);
                s30 = fma(x3, y0, s30); s31 = fma(x3, y1, s31);
                s32 = fma(x3, y2, s32); s33 = fma(x3, y3, s33);
            }
            float v00 = hsum(s00); float v01 = hsum(s01); float v02 = hsum(s02); float v03 = hsum(s03);
            float v10 = hsum(s10); float v11 = hsum(s11); float v12 = hsum(s12); float v13 = hsum(s13);
            float v20 = hsum(s20); float v21 = hsum(s21); float v22 = hsum(s22); float v23 = hsum(s23);
            float v30 = hsum(s30); float v31 = hsum(s31); float v32 = hsum(s32); float v33 = hsum(s33);
            for (int k = k8; k < c; k++) {
                float x0 = act.get(a0 + k);
                float x1 = act.get(a1 + k);
                float x2 = act.get(a2 + k);
                float x3 = act.get(a3 + k);
                float y0 = Bf16Kernels.widen(w16.get(b0 + k), pow2);
                float y1 = Bf16Kernels.widen(w16.get(b1 + k), pow2);
                float y2 = Bf16Kernels.widen(w16.get(b2 + k), pow2);
                float y3 = Bf16Kernels.widen(w16.get(b3 + k), pow2);
                v00 += x0 * y0; v01 += x0 * y1; v02 += x0 * y2; v03 += x0 * y3;
                v10 += x1 * y0; v11 += x1 * y1; v12 += x1 * y2; v13 += x1 * y3;
                v20 += x2 * y0; v21 += x2 * y1; v22 += x2 * y2; v23 += x2 * y3;
                v30 += x3 * y0; v31 += x3 * y1; v32 += x3 * y2; v33 += x3 * y3;
            }
            float c0 = 0f;
            float c1 = 0f;
            float c2 = 0f;
            float c3 = 0f;
            int bOff = m.get(F_B);
            if (bOff >= 0) {
                int bb = bOff + pOff;
                c0 = Bf16Kernels.widen(w16.get(bb + o0), pow2);
                c1 = Bf16Kernels.widen(w16.get(bb + Math.min(o0 + 1, oc - 1)), pow2);
                c2 = Bf16Kernels.widen(w16.get(bb + Math.min(o0 + 2, oc - 1)), pow2);
                c3 = Bf16Kernels.widen(w16.get(bb + Math.min(o0 + 3, oc - 1)), pow2);
            }
            int out = m.get(F_OUT) + aOff;
            storeRow(act, out, r0, o0, n, oc, v00 + c0, v01 + c1, v02 + c2, v03 + c3);
            storeRow(act, out, r0 + 1, o0, n, oc, v10 + c0, v11 + c1, v12 + c2, v13 + c3);
            storeRow(act, out, r0 + 2, o0, n, oc, v20 + c0, v21 + c1, v22 + c2, v23 + c3);
            storeRow(act, out, r0 + 3, o0, n, oc, v30 + c0, v31 + c1, v32 + c2, v33 + c3);
        }
    }

    // w16: bf16 W (OC,C) of layer l -> dact: WT (C,OC) widened. Args and launch as transposeWeight.
    public static void transposeWeightBf16(KernelContext ctx, FloatArray dact, ShortArray w16, FloatArray pow2,
            IntArray layer, IntArray m) {
        int rows = m.get(T_R);
        int cols = m.get(T_K);
        int k0 = ctx.globalIdx * BLOCK;
        int r0 = ctx.globalIdy * BLOCK;
        int src = m.get(T_SRC) + layer.get(0) * m.get(T_STRIDE);
        int dst = m.get(T_DST);
        for (int a = 0; a < BLOCK; a++) {
            for (int b = 0; b < BLOCK; b++) {
                int r = r0 + a;
                int k = k0 + b;
                if (r < rows && k < cols) {
                    dact.set(dst + k * rows + r, Bf16Kernels.widen(w16.get(src + r * cols + k), pow2));
                }
            }
        }
    }
}
