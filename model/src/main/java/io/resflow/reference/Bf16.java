package io.resflow.reference;

/**
 * bfloat16: the upper 16 bits of a float32 (sign, 8 exponent bits, 7 mantissa bits; 8 significant bits, unit
 * roundoff u = 2^-8). Rounding is to nearest, ties to even, as PyTorch's {@code tensor.to(torch.bfloat16)}; NaN stays
 * NaN (quiet), infinities stay, a finite value past the largest bf16 rounds to infinity.
 * <pre>
 *   x (n) -> x (n) = bf16(x), in place: a float whose low 16 bits are zero
 * </pre>
 */
public final class Bf16 {
    /** Unit roundoff of round to nearest: half the distance between 1 and the next bf16, 2^-8. */
    public static final double UNIT_ROUNDOFF = 0x1p-8;

    private Bf16() {
    }

    /** The bf16 bits of x (round to nearest even). */
    public static short bits(float x) {
        int b = Float.floatToRawIntBits(x);
        if ((b & 0x7fffffff) > 0x7f800000) {
            return (short) ((b >>> 16) | 0x40); // NaN: keep the sign and payload's top, make it quiet
        }
        return (short) ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
    }

    /** The float a bf16 value stands for. */
    public static float widen(short h) {
        return Float.intBitsToFloat(h << 16);
    }

    /** x rounded to the nearest bf16 (ties to even), as a float. */
    public static float round(float x) {
        return widen(bits(x));
    }

    // x (n) -> x (n) = bf16(x)
    public static void round(float[] x, int n) {
        for (int i = 0; i < n; i++) {
            x[i] = round(x[i]);
        }
    }
}
