package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector math built only from operations whose results are fully specified (add, mul, fma, div, sqrt, min/max,
 * integer shifts). The Vector API's own transcendental operators (EXP, TANH, ...) and its float
 * ADD reductions are deliberately not used: their results may differ between the interpreter / C1 fallback and the
 * C2 intrinsic, which would break bit-for-bit determinism between a cold and a warm run.
 */
public final class VMath {
    static final VectorSpecies<Float> SP = FloatVector.SPECIES_PREFERRED;
    static final int L = SP.length();

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float EXP_HI = 88.3762626647949f;
    private static final float EXP_LO = -87.3365478515625f;
    private static final float MAGIC = 12582912f; // 1.5 * 2^23: adding it rounds to an integer in the low bits
    private static final float P0 = 1.9875691500E-4f;
    private static final float P1 = 1.3981999507E-3f;
    private static final float P2 = 8.3334519073E-3f;
    private static final float P3 = 4.1665795894E-2f;
    private static final float P4 = 1.6666665459E-1f;
    private static final float P5 = 5.0000001201E-1f;

    private VMath() {
    }

    /** e^x, about 2 ulp; arguments are clamped to [-87.34, 88.38] (so e^-inf gives 1.2e-38, not 0). */
    public static FloatVector exp(FloatVector x) {
        x = x.max(EXP_LO).min(EXP_HI);
        FloatVector t = x.fma(FloatVector.broadcast(SP, LOG2E), FloatVector.broadcast(SP, MAGIC));
        FloatVector n = t.sub(MAGIC);
        FloatVector r = n.fma(FloatVector.broadcast(SP, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(SP, -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(SP, P0);
        p = p.fma(r, FloatVector.broadcast(SP, P1));
        p = p.fma(r, FloatVector.broadcast(SP, P2));
        p = p.fma(r, FloatVector.broadcast(SP, P3));
        p = p.fma(r, FloatVector.broadcast(SP, P4));
        p = p.fma(r, FloatVector.broadcast(SP, P5));
        FloatVector r2 = r.mul(r);
        FloatVector y = p.fma(r2, r).add(1f);
        IntVector bits = ((IntVector) t.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 23).add(127 << 23);
        return y.mul(bits.reinterpretAsFloats());
    }

    /** Scalar twin of {@link #exp(FloatVector)}: the same operations, so the same bits. */
    public static float exp(float x) {
        x = Math.min(Math.max(x, EXP_LO), EXP_HI);
        float t = Math.fma(x, LOG2E, MAGIC);
        float n = t - MAGIC;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = P0;
        p = Math.fma(p, r, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float r2 = r * r;
        float y = Math.fma(p, r2, r) + 1f;
        return y * Float.intBitsToFloat((Float.floatToRawIntBits(t) << 23) + (127 << 23));
    }

    /**
     * Natural log of a positive normal float, about 1 ulp (Cephes' logf polynomial, written with fma so every
     * execution mode gives the same bits; StrictMath.log costs as much as a row of attention scores).
     */
    public static float log(float x) {
        int bits = Float.floatToRawIntBits(x);
        int e = ((bits >>> 23) & 0xff) - 126;
        float m = Float.intBitsToFloat((bits & 0x007fffff) | 0x3f000000); // x = m 2^e, m in [0.5, 1)
        float f;
        if (m < 0.70710678f) {
            e -= 1;
            f = m + m - 1f;
        } else {
            f = m - 1f;
        }
        float z = f * f;
        float y = 7.0376836292E-2f;
        y = Math.fma(y, f, -1.1514610310E-1f);
        y = Math.fma(y, f, 1.1676998740E-1f);
        y = Math.fma(y, f, -1.2420140846E-1f);
        y = Math.fma(y, f, 1.4249322787E-1f);
        y = Math.fma(y, f, -1.6668057665E-1f);
        y = Math.fma(y, f, 2.0000714765E-1f);
        y = Math.fma(y, f, -2.4999993993E-1f);
        y = Math.fma(y, f, 3.3333331174E-1f);
        y = y * f * z;
        y = Math.fma(e, LN2_LO, y);
        y = Math.fma(-0.5f, z, y);
        return Math.fma(e, LN2_HI, f + y);
    }

    /** 1 / (1 + e^-x). */
    public static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(SP, 1f).div(exp(x.neg()).add(1f));
    }

    public static float sigmoid(float x) {
        return 1f / (exp(-x) + 1f);
    }

    /**
     * Sum of tmp[off .. off+L) in index order: the deterministic horizontal sum. Callers store their accumulator
     * vector there first ({@code acc.intoArray(tmp, off)}); no vector crosses a method boundary, so nothing has to
     * be boxed when C2 declines to inline.
     */
    public static float sumLanes(float[] tmp, int off) {
        float s = 0f;
        for (int i = 0; i < L; i++) {
            s += tmp[off + i];
        }
        return s;
    }

}
