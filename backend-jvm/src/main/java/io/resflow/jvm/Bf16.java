package io.resflow.jvm;

import java.util.IdentityHashMap;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * bf16 in the jvm backend (the kernels of {@link io.resflow.reference.Bf16}): rounding in place, and the bf16 copies of
 * the matmul weights, held as 16-bit arrays (half the bytes of the fp32 master weights) and widened to fp32 where the
 * GEMM packs its panels or the GEMV streams its rows.
 * <pre>
 *   round:  x (n) -> x (n) = bf16(x)                          (a rounding point)
 *   weight: w (OC,C) fp32 -> w16 (OC,C) bf16 bits, made once per step (stale after parametersChanged, remade on use)
 *   bias:   b (OC) -> bf16(b) as floats
 * </pre>
 * Rounding on the bits, lane-wise: b + 0x7fff + ((b >> 16) & 1), then the low half cleared (round to nearest, ties to
 * even); NaN lanes keep their bits with the quiet bit set. Bit for bit what the reference's scalar rounding gives
 * (JvmBf16Test). Widening is a 16-bit left shift of the zero-extended bits.
 */
final class Bf16 extends JvmOp {
    /** Shorts with the float species' lane count (half its bits). */
    static final VectorSpecies<Short> SS = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    static final VectorSpecies<Integer> SI = VectorSpecies.of(int.class, SP.vectorShape());

    private final RoundJob round = new RoundJob();
    private final IdentityHashMap<float[], Weight> weights = new IdentityHashMap<>();
    private final IdentityHashMap<float[], Bias> biases = new IdentityHashMap<>();

    private static final class Bias {
        final float[] values;
        boolean fresh;

        Bias(int n) {
            values = new float[n];
        }
    }

    private static final class Weight {
        final short[] bits;
        boolean fresh;

        Weight(int n) {
            bits = new short[n];
        }
    }

    Bf16(Exec x) {
        super(x);
    }

    // x (n) -> x (n) = bf16(x)
    void round(float[] a, int n) {
        RoundJob j = round;
        j.src = a;
        j.dstF = a;
        j.dstS = null;
        j.n = n;
        x.run(j, Exec.chunks(n));
    }

    /** Every copy is stale: the next use remakes it (into the same array). */
    void invalidate() {
        for (Weight w : weights.values()) {
            w.fresh = false;
        }
        for (Bias b : biases.values()) {
            b.fresh = false;
        }
    }

    /** The bf16 bits of weight w (n values), made now if stale. */
    short[] weight(float[] w, int n) {
        Weight c = weights.get(w);
        if (c == null || c.bits.length != n) {
            c = new Weight(n);
            weights.put(w, c);
        }
        if (!c.fresh) {
            RoundJob j = round;
            j.src = w;
            j.dstF = null;
            j.dstS = c.bits;
            j.n = n;
            x.run(j, Exec.chunks(n));
            c.fresh = true;
        }
        return c.bits;
    }

    /** bf16(b) as floats (a bias is small: rounded with the scalar rule), remade in place when stale; null for null. */
    float[] bias(float[] b, int n) {
        if (b == null) {
            return null;
        }
        Bias r = biases.get(b);
        if (r == null || r.values.length != n) {
            r = new Bias(n);
            biases.put(b, r);
        }
        if (!r.fresh) {
            for (int i = 0; i < n; i++) {
                r.values[i] = io.resflow.reference.Bf16.round(b[i]);
            }
            r.fresh = true;
        }
        return r.values;
    }

    /** The rounded bits of L floats as an int vector (bf16 in the upper half, lower half zero). */
    static IntVector roundBits(FloatVector v) {
        IntVector b = v.reinterpretAsInts();
        IntVector lsb = b.lanewise(VectorOperators.LSHR, 16).and(1);
        IntVector r = b.add(0x7fff).add(lsb);
        VectorMask<Integer> nan = b.and(0x7fffffff).compare(VectorOperators.GT, 0x7f800000);
        return r.blend(b.or(0x00400000), nan).and(0xffff0000);
    }

    /** L bf16 values from bits[off ..] widened to floats. */
    static FloatVector widen(short[] bits, int off) {
        IntVector i = (IntVector) ShortVector.fromArray(SS, bits, off).convertShape(VectorOperators.S2I, SI, 0);
        return i.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** Rounds src into dstF (floats) or dstS (bf16 bits), chunk by chunk; scalar twin for the tail. */
    private static final class RoundJob extends WorkerPool.Job {
        float[] src, dstF;
        short[] dstS;
        int n;

        @Override
        public void task(int t, Scratch s) {
            int i0 = t * Exec.CHUNK;
            int i1 = Math.min(n, i0 + Exec.CHUNK);
            int bound = i0 + SP.loopBound(i1 - i0);
            int i = i0;
            if (dstS == null) {
                for (; i < bound; i += L) {
                    roundBits(FloatVector.fromArray(SP, src, i)).reinterpretAsFloats().intoArray(dstF, i);
                }
                for (; i < i1; i++) {
                    dstF[i] = io.resflow.reference.Bf16.round(src[i]);
                }
            } else {
                for (; i < bound; i += L) {
                    IntVector hi = roundBits(FloatVector.fromArray(SP, src, i)).lanewise(VectorOperators.LSHR, 16);
                    ((ShortVector) hi.convertShape(VectorOperators.I2S, SS, 0)).intoArray(dstS, i);
                }
                for (; i < i1; i++) {
                    dstS[i] = io.resflow.reference.Bf16.bits(src[i]);
                }
            }
        }
    }
}
