package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * L x L float block transposes for the packing of transposed GEMM operands (W panels of the forward, K and V panels
 * of attention), L = the preferred vector length. With 16 lanes (AVX-512) the block goes through registers: four
 * rounds of two-source lane selects, which AVX-512 has as one instruction. With 8 lanes the same selects in three
 * rounds where the CPU has them at 256 bits (AVX-512VL: an AVX-512 CPU run with {@code -XX:MaxVectorSize=32}; on Zen 4
 * the attention forward at T = 64 ran 8% faster than with scalar copies, the blocks being a tenth of it), and a
 * scalar block copy where it does not: on AVX2 (Zen, JDK 25) 64 blocks of 8 x 8 took 2.3 us as scalar copies, 3.4 us
 * as rearrange + blend rounds and 6.3 us as two-source selects, which AVX2 lacks. 4 lanes: scalar.
 */
final class Transpose {
    private static final VectorSpecies<Float> S16 = FloatVector.SPECIES_512;
    private static final float[] LO = new float[64];
    private static final float[] HI = new float[64];
    /** The block size: the preferred vector length. */
    static final int L = FloatVector.SPECIES_PREFERRED.length();
    /**
     * 8 x 8 blocks through registers (three rounds of two-source selects, {@link #t8}) where one instruction does
     * such a select ({@link CpuShape#twoSourcePermute}); a scalar copy elsewhere. {@code -Dresflow.jvm.transpose8=
     * select|scalar} forces either.
     */
    static final boolean SELECT8 = switch (System.getProperty("resflow.jvm.transpose8", "")) {
        case "select" -> true;
        case "scalar" -> false;
        default -> CpuShape.EVEX_VL;
    };
    private static final VectorSpecies<Float> S8 = FloatVector.SPECIES_256;
    private static final float[] LO8 = new float[24];
    private static final float[] HI8 = new float[24];

    static {
        for (int s = 0; s < 3; s++) {
            int h = 1 << s;
            for (int c = 0; c < 8; c++) {
                LO8[s * 8 + c] = (c & h) == 0 ? c : 8 + c - h;
                HI8[s * 8 + c] = (c & h) != 0 ? 8 + c : c + h;
            }
        }
        for (int s = 0; s < 4; s++) {
            int h = 1 << s;
            for (int c = 0; c < 16; c++) {
                LO[s * 16 + c] = (c & h) == 0 ? c : 16 + c - h;
                HI[s * 16 + c] = (c & h) != 0 ? 16 + c : c + h;
            }
        }
    }

    private Transpose() {
    }

    /** dst[dOff + c*ldd + r] = src[so + r*ld + c] for r, c < L. */
    static void block(float[] src, int so, int ld, float[] dst, int dOff, int ldd) {
        if (L == 16) {
            t16(src, so, ld, dst, dOff, ldd);
        } else if (L == 8 && SELECT8) {
            t8(src, so, ld, dst, dOff, ldd);
        } else {
            scalar(src, so, ld, dst, dOff, ldd, L);
        }
    }

    /** dst[dOff + c*ldd + r] = src[so + r*ld + c] for r, c < n, element by element. */
    static void scalar(float[] src, int so, int ld, float[] dst, int dOff, int ldd, int n) {
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < n; c++) {
                dst[dOff + c * ldd + r] = src[so + r * ld + c];
            }
        }
    }

    /** dst[dOff + c*ldd + r] = src[so + r*ld + c] for r, c < 16. */
    static void t16(float[] src, int so, int ld, float[] dst, int dOff, int ldd) {
        FloatVector v0 = FloatVector.fromArray(S16, src, so);
        FloatVector v1 = FloatVector.fromArray(S16, src, so + ld);
        FloatVector v2 = FloatVector.fromArray(S16, src, so + 2 * ld);
        FloatVector v3 = FloatVector.fromArray(S16, src, so + 3 * ld);
        FloatVector v4 = FloatVector.fromArray(S16, src, so + 4 * ld);
        FloatVector v5 = FloatVector.fromArray(S16, src, so + 5 * ld);
        FloatVector v6 = FloatVector.fromArray(S16, src, so + 6 * ld);
        FloatVector v7 = FloatVector.fromArray(S16, src, so + 7 * ld);
        FloatVector v8 = FloatVector.fromArray(S16, src, so + 8 * ld);
        FloatVector v9 = FloatVector.fromArray(S16, src, so + 9 * ld);
        FloatVector v10 = FloatVector.fromArray(S16, src, so + 10 * ld);
        FloatVector v11 = FloatVector.fromArray(S16, src, so + 11 * ld);
        FloatVector v12 = FloatVector.fromArray(S16, src, so + 12 * ld);
        FloatVector v13 = FloatVector.fromArray(S16, src, so + 13 * ld);
        FloatVector v14 = FloatVector.fromArray(S16, src, so + 14 * ld);
        FloatVector v15 = FloatVector.fromArray(S16, src, so + 15 * ld);
        FloatVector lo = FloatVector.fromArray(S16, LO, 0);
        FloatVector hi = FloatVector.fromArray(S16, HI, 0);
        FloatVector t;
        t = lo.selectFrom(v0, v1); v1 = hi.selectFrom(v0, v1); v0 = t;
        t = lo.selectFrom(v2, v3); v3 = hi.selectFrom(v2, v3); v2 = t;
        t = lo.selectFrom(v4, v5); v5 = hi.selectFrom(v4, v5); v4 = t;
        t = lo.selectFrom(v6, v7); v7 = hi.selectFrom(v6, v7); v6 = t;
        t = lo.selectFrom(v8, v9); v9 = hi.selectFrom(v8, v9); v8 = t;
        t = lo.selectFrom(v10, v11); v11 = hi.selectFrom(v10, v11); v10 = t;
        t = lo.selectFrom(v12, v13); v13 = hi.selectFrom(v12, v13); v12 = t;
        t = lo.selectFrom(v14, v15); v15 = hi.selectFrom(v14, v15); v14 = t;
        lo = FloatVector.fromArray(S16, LO, 16);
        hi = FloatVector.fromArray(S16, HI, 16);
        t = lo.selectFrom(v0, v2); v2 = hi.selectFrom(v0, v2); v0 = t;
        t = lo.selectFrom(v1, v3); v3 = hi.selectFrom(v1, v3); v1 = t;
        t = lo.selectFrom(v4, v6); v6 = hi.selectFrom(v4, v6); v4 = t;
        t = lo.selectFrom(v5, v7); v7 = hi.selectFrom(v5, v7); v5 = t;
        t = lo.selectFrom(v8, v10); v10 = hi.selectFrom(v8, v10); v8 = t;
        t = lo.selectFrom(v9, v11); v11 = hi.selectFrom(v9, v11); v9 = t;
        t = lo.selectFrom(v12, v14); v14 = hi.selectFrom(v12, v14); v12 = t;
        t = lo.selectFrom(v13, v15); v15 = hi.selectFrom(v13, v15); v13 = t;
        lo = FloatVector.fromArray(S16, LO, 32);
        hi = FloatVector.fromArray(S16, HI, 32);
        t = lo.selectFrom(v0, v4); v4 = hi.selectFrom(v0, v4); v0 = t;
        t = lo.selectFrom(v1, v5); v5 = hi.selectFrom(v1, v5); v1 = t;
        t = lo.selectFrom(v2, v6); v6 = hi.selectFrom(v2, v6); v2 = t;
        t = lo.selectFrom(v3, v7); v7 = hi.selectFrom(v3, v7); v3 = t;
        t = lo.selectFrom(v8, v12); v12 = hi.selectFrom(v8, v12); v8 = t;
        t = lo.selectFrom(v9, v13); v13 = hi.selectFrom(v9, v13); v9 = t;
        t = lo.selectFrom(v10, v14); v14 = hi.selectFrom(v10, v14); v10 = t;
        t = lo.selectFrom(v11, v15); v15 = hi.selectFrom(v11, v15); v11 = t;
        lo = FloatVector.fromArray(S16, LO, 48);
        hi = FloatVector.fromArray(S16, HI, 48);
        t = lo.selectFrom(v0, v8); v8 = hi.selectFrom(v0, v8); v0 = t;
        t = lo.selectFrom(v1, v9); v9 = hi.selectFrom(v1, v9); v1 = t;
        t = lo.selectFrom(v2, v10); v10 = hi.selectFrom(v2, v10); v2 = t;
        t = lo.selectFrom(v3, v11); v11 = hi.selectFrom(v3, v11); v3 = t;
        t = lo.selectFrom(v4, v12); v12 = hi.selectFrom(v4, v12); v4 = t;
        t = lo.selectFrom(v5, v13); v13 = hi.selectFrom(v5, v13); v5 = t;
        t = lo.selectFrom(v6, v14); v14 = hi.selectFrom(v6, v14); v6 = t;
        t = lo.selectFrom(v7, v15); v15 = hi.selectFrom(v7, v15); v7 = t;
        v0.intoArray(dst, dOff);
        v1.intoArray(dst, dOff + ldd);
        v2.intoArray(dst, dOff + 2 * ldd);
        v3.intoArray(dst, dOff + 3 * ldd);
        v4.intoArray(dst, dOff + 4 * ldd);
        v5.intoArray(dst, dOff + 5 * ldd);
        v6.intoArray(dst, dOff + 6 * ldd);
        v7.intoArray(dst, dOff + 7 * ldd);
        v8.intoArray(dst, dOff + 8 * ldd);
        v9.intoArray(dst, dOff + 9 * ldd);
        v10.intoArray(dst, dOff + 10 * ldd);
        v11.intoArray(dst, dOff + 11 * ldd);
        v12.intoArray(dst, dOff + 12 * ldd);
        v13.intoArray(dst, dOff + 13 * ldd);
        v14.intoArray(dst, dOff + 14 * ldd);
        v15.intoArray(dst, dOff + 15 * ldd);
    }

    /**
     * dst[dOff + c*ldd + r] = src[so + r*ld + c] for r, c < 8: three rounds of two-source selects. The 8-lane twin of
     * {@link #t16}, written out like it on purpose: every row lives in a register of its own through the rounds, which
     * a loop over an array of vectors would not give.
     */
    static void t8(float[] src, int so, int ld, float[] dst, int dOff, int ldd) {
        FloatVector v0 = FloatVector.fromArray(S8, src, so);
        FloatVector v1 = FloatVector.fromArray(S8, src, so + ld);
        FloatVector v2 = FloatVector.fromArray(S8, src, so + 2 * ld);
        FloatVector v3 = FloatVector.fromArray(S8, src, so + 3 * ld);
        FloatVector v4 = FloatVector.fromArray(S8, src, so + 4 * ld);
        FloatVector v5 = FloatVector.fromArray(S8, src, so + 5 * ld);
        FloatVector v6 = FloatVector.fromArray(S8, src, so + 6 * ld);
        FloatVector v7 = FloatVector.fromArray(S8, src, so + 7 * ld);
        FloatVector lo = FloatVector.fromArray(S8, LO8, 0);
        FloatVector hi = FloatVector.fromArray(S8, HI8, 0);
        FloatVector t;
        t = lo.selectFrom(v0, v1); v1 = hi.selectFrom(v0, v1); v0 = t;
        t = lo.selectFrom(v2, v3); v3 = hi.selectFrom(v2, v3); v2 = t;
        t = lo.selectFrom(v4, v5); v5 = hi.selectFrom(v4, v5); v4 = t;
        t = lo.selectFrom(v6, v7); v7 = hi.selectFrom(v6, v7); v6 = t;
        lo = FloatVector.fromArray(S8, LO8, 8);
        hi = FloatVector.fromArray(S8, HI8, 8);
        t = lo.selectFrom(v0, v2); v2 = hi.selectFrom(v0, v2); v0 = t;
        t = lo.selectFrom(v1, v3); v3 = hi.selectFrom(v1, v3); v1 = t;
        t = lo.selectFrom(v4, v6); v6 = hi.selectFrom(v4, v6); v4 = t;
        t = lo.selectFrom(v5, v7); v7 = hi.selectFrom(v5, v7); v5 = t;
        lo = FloatVector.fromArray(S8, LO8, 16);
        hi = FloatVector.fromArray(S8, HI8, 16);
        t = lo.selectFrom(v0, v4); v4 = hi.selectFrom(v0, v4); v0 = t;
        t = lo.selectFrom(v1, v5); v5 = hi.selectFrom(v1, v5); v1 = t;
        t = lo.selectFrom(v2, v6); v6 = hi.selectFrom(v2, v6); v2 = t;
        t = lo.selectFrom(v3, v7); v7 = hi.selectFrom(v3, v7); v3 = t;
        v0.intoArray(dst, dOff);
        v1.intoArray(dst, dOff + ldd);
        v2.intoArray(dst, dOff + 2 * ldd);
        v3.intoArray(dst, dOff + 3 * ldd);
        v4.intoArray(dst, dOff + 4 * ldd);
        v5.intoArray(dst, dOff + 5 * ldd);
        v6.intoArray(dst, dOff + 6 * ldd);
        v7.intoArray(dst, dOff + 7 * ldd);
    }
}
