package io.resflow.jvm;

import static io.resflow.jvm.Sgemm.L;
import static io.resflow.jvm.Sgemm.MR;
import static io.resflow.jvm.Sgemm.NR;
import static io.resflow.jvm.Sgemm.NV;
import static io.resflow.jvm.Sgemm.SP;

import jdk.incubator.vector.FloatVector;

/**
 * The GEMM's register micro-kernels (the tile is {@link Sgemm.Tile}): t[MR x NR] = A[MR x kc] B[kc x NR] for one
 * k block, B a packed panel. Each kernel is written out by hand, one local per accumulator and one straight loop: C2
 * keeps locals in registers, while a loop over an array of accumulators would keep them in memory; so the kernels
 * repeat one shape at different sizes on purpose. Used by {@link Sgemm} and {@link Attention}.
 */
final class MicroKernel {
    private MicroKernel() {
    }

    /**
     * t[MR x NR] = A[MR x kc] B[kc x NR] with the tile's micro-kernel (a constant choice: C2 keeps one branch). A(r, k)
     * = a[ao + r*aSi + k*aSk]; B is a packed panel, B(k, j) = bp[bo + k*NR + j].
     */
    static void kernel(float[] a, int ao, int aSi, int aSk, float[] bp, int bo, int kc, float[] t) {
        if (NV == 4 && MR == 6) {
            kernel6x4(a, ao, aSi, aSk, bp, bo, kc, t);
        } else if (NV == 4) {
            kernel4x4(a, ao, aSi, aSk, bp, bo, kc, t);
        } else {
            kernel6x2(a, ao, aSi, aSk, bp, bo, kc, t);
        }
    }

    /**
     * The left half of {@link #kernel}'s tile, t[r*NR + j] for j < NR/2 (the rest of t untouched): for a panel whose
     * right half is all zero or masked (attention's diagonal tiles), at half the FMAs.
     */
    static void kernelHalf(float[] a, int ao, int aSi, int aSk, float[] bp, int bo, int kc, float[] t) {
        if (NV == 4 && MR == 6) {
            kernel6x2(a, ao, aSi, aSk, bp, bo, kc, t);
        } else if (NV == 4) {
            kernel4x2(a, ao, aSi, aSk, bp, bo, kc, t);
        } else {
            kernel6x1(a, ao, aSi, aSk, bp, bo, kc, t);
        }
    }

    static void kernel6x1(float[] a, int ao, int aSi, int aSk, float[] bp, int bo, int kc, float[] t) {
        FloatVector c0 = FloatVector.zero(SP), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        for (int k = 0; k < kc; k++, bo += NR, ao += aSk) {
            FloatVector b0 = FloatVector.fromArray(SP, bp, bo);
            c0 = FloatVector.broadcast(SP, a[ao]).fma(b0, c0);
            c1 = FloatVector.broadcast(SP, a[ao + aSi]).fma(b0, c1);
            c2 = FloatVector.broadcast(SP, a[ao + 2 * aSi]).fma(b0, c2);
            c3 = FloatVector.broadcast(SP, a[ao + 3 * aSi]).fma(b0, c3);
            c4 = FloatVector.broadcast(SP, a[ao + 4 * aSi]).fma(b0, c4);
            c5 = FloatVector.broadcast(SP, a[ao + 5 * aSi]).fma(b0, c5);
        }
        c0.intoArray(t, 0);
        c1.intoArray(t, NR);
        c2.intoArray(t, 2 * NR);
        c3.intoArray(t, 3 * NR);
        c4.intoArray(t, 4 * NR);
        c5.intoArray(t, 5 * NR);
    }

    static void kernel4x2(float[] a, int ao, int aSi, int aSk, float[] bp, int bo, int kc, float[] t) {
        FloatVector c00 = FloatVector.zero(SP), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00;
        FloatVector c31 = c00;
        for (int k = 0; k < kc; k++, bo += NR, ao += aSk) {
            FloatVector b0 = FloatVector.fromArray(SP, bp, bo);
            FloatVector b1 = FloatVector.fromArray(SP, bp, bo + L);
            FloatVector x = FloatVector.broadcast(SP, a[ao]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(SP, a[ao + aSi]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(SP, a[ao + 2 * aSi]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(SP, a[ao + 3 * aSi]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
        }
        c00.intoArray(t, 0);
        c01.intoArray(t, L);
        c10.intoArray(t, NR);
        c11.intoArray(t, NR + L);
        c20.intoArray(t, 2 * NR);
        c21.intoArray(t, 2 * NR + L);
        c30.intoArray(t, 3 * NR);
        c31.intoArray(t, 3 * NR + L);
    }

    /**
     * The 6 x 2-vector micro-kernel for 16 vector registers: 12 accumulators from zero, 2 loads of B and 6 broadcasts
     * of A per k for 12 FMAs; same contract as {@link #kernel4x4}.
     */
    static void kernel6x2(float[] a, int ao, int aSi, int aSk, float[] bp, int bo, int kc, float[] t) {
        FloatVector c00 = FloatVector.zero(SP), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int k = 0; k < kc; k++, bo += NR, ao += aSk) {
            FloatVector b0 = FloatVector.fromArray(SP, bp, bo);
            FloatVector b1 = FloatVector.fromArray(SP, bp, bo + L);
            FloatVector x = FloatVector.broadcast(SP, a[ao]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(SP, a[ao + aSi]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(SP, a[ao + 2 * aSi]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(SP, a[ao + 3 * aSi]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(SP, a[ao + 4 * aSi]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(SP, a[ao + 5 * aSi]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
        }
        c00.intoArray(t, 0 * NR + 0 * L);
        c01.intoArray(t, 0 * NR + 1 * L);
        c10.intoArray(t, 1 * NR + 0 * L);
        c11.intoArray(t, 1 * NR + 1 * L);
        c20.intoArray(t, 2 * NR + 0 * L);
        c21.intoArray(t, 2 * NR + 1 * L);
        c30.intoArray(t, 3 * NR + 0 * L);
        c31.intoArray(t, 3 * NR + 1 * L);
        c40.intoArray(t, 4 * NR + 0 * L);
        c41.intoArray(t, 4 * NR + 1 * L);
        c50.intoArray(t, 5 * NR + 0 * L);
        c51.intoArray(t, 5 * NR + 1 * L);
    }

    /**
     * The 6 x 4-vector micro-kernel for 32 vector registers: 24 accumulators, 4 loads of B and 6 broadcasts of A per k
     * for 24 FMAs (29 registers); 1.5 times the FMAs per B load of {@link #kernel4x4}, same contract.
     */
    static void kernel6x4(float[] a, int ao, int aSi, int aSk, float[] bp, int bo, int kc, float[] t) {
        FloatVector c00 = FloatVector.zero(SP), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00;
        FloatVector c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        FloatVector c40 = c00, c41 = c00, c42 = c00, c43 = c00, c50 = c00, c51 = c00, c52 = c00, c53 = c00;
        for (int k = 0; k < kc; k++, bo += NR, ao += aSk) {
            FloatVector b0 = FloatVector.fromArray(SP, bp, bo);
            FloatVector b1 = FloatVector.fromArray(SP, bp, bo + L);
            FloatVector b2 = FloatVector.fromArray(SP, bp, bo + 2 * L);
            FloatVector b3 = FloatVector.fromArray(SP, bp, bo + 3 * L);
            FloatVector x = FloatVector.broadcast(SP, a[ao]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            c02 = x.fma(b2, c02);
            c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(SP, a[ao + aSi]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            c12 = x.fma(b2, c12);
            c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(SP, a[ao + 2 * aSi]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            c22 = x.fma(b2, c22);
            c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(SP, a[ao + 3 * aSi]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            c32 = x.fma(b2, c32);
            c33 = x.fma(b3, c33);
            x = FloatVector.broadcast(SP, a[ao + 4 * aSi]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            c42 = x.fma(b2, c42);
            c43 = x.fma(b3, c43);
            x = FloatVector.broadcast(SP, a[ao + 5 * aSi]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
            c52 = x.fma(b2, c52);
            c53 = x.fma(b3, c53);
        }
        c00.intoArray(t, 0 * L);
        c01.intoArray(t, 1 * L);
        c02.intoArray(t, 2 * L);
        c03.intoArray(t, 3 * L);
        c10.intoArray(t, 4 * L);
        c11.intoArray(t, 5 * L);
        c12.intoArray(t, 6 * L);
        c13.intoArray(t, 7 * L);
        c20.intoArray(t, 8 * L);
        c21.intoArray(t, 9 * L);
        c22.intoArray(t, 10 * L);
        c23.intoArray(t, 11 * L);
        c30.intoArray(t, 12 * L);
        c31.intoArray(t, 13 * L);
        c32.intoArray(t, 14 * L);
        c33.intoArray(t, 15 * L);
        c40.intoArray(t, 16 * L);
        c41.intoArray(t, 17 * L);
        c42.intoArray(t, 18 * L);
        c43.intoArray(t, 19 * L);
        c50.intoArray(t, 20 * L);
        c51.intoArray(t, 21 * L);
        c52.intoArray(t, 22 * L);
        c53.intoArray(t, 23 * L);
    }

    /**
     * The 4 x 4-vector micro-kernel for 32 vector registers: t[4 x NR] = A[4 x kc] B[kc x NR] (16 accumulators from zero; the caller adds the tile
     * to C). Rows read A at a[ao + r*aSi + k*aSk]. One straight loop with no branches, so its compiled form does not
     * depend on which shapes ran first; and small enough for C1 at every tier (see README: a kernel C1 compiles at
     * tier 2 but not at tier 3 can be left in C1 code for good).
     */
    static void kernel4x4(float[] a, int ao, int aSi, int aSk, float[] bp, int bo, int kc, float[] t) {
        FloatVector c00 = FloatVector.zero(SP), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00;
        FloatVector c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        for (int k = 0; k < kc; k++, bo += NR, ao += aSk) {
            FloatVector b0 = FloatVector.fromArray(SP, bp, bo);
            FloatVector b1 = FloatVector.fromArray(SP, bp, bo + L);
            FloatVector b2 = FloatVector.fromArray(SP, bp, bo + 2 * L);
            FloatVector b3 = FloatVector.fromArray(SP, bp, bo + 3 * L);
            FloatVector x = FloatVector.broadcast(SP, a[ao]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            c02 = x.fma(b2, c02);
            c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(SP, a[ao + aSi]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            c12 = x.fma(b2, c12);
            c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(SP, a[ao + 2 * aSi]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            c22 = x.fma(b2, c22);
            c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(SP, a[ao + 3 * aSi]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            c32 = x.fma(b2, c32);
            c33 = x.fma(b3, c33);
        }
        c00.intoArray(t, 0 * L);
        c01.intoArray(t, 1 * L);
        c02.intoArray(t, 2 * L);
        c03.intoArray(t, 3 * L);
        c10.intoArray(t, 4 * L);
        c11.intoArray(t, 5 * L);
        c12.intoArray(t, 6 * L);
        c13.intoArray(t, 7 * L);
        c20.intoArray(t, 8 * L);
        c21.intoArray(t, 9 * L);
        c22.intoArray(t, 10 * L);
        c23.intoArray(t, 11 * L);
        c30.intoArray(t, 12 * L);
        c31.intoArray(t, 13 * L);
        c32.intoArray(t, 14 * L);
        c33.intoArray(t, 15 * L);
    }
}
