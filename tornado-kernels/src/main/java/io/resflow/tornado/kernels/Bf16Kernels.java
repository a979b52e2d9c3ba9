package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

/**
 * The bf16 mode's device kernels ({@code io.resflow.engine.Precision}): the rounding points (a float buffer rounded
 * to bf16 in place, round to nearest, ties to even) and the 16-bit copy of the fp32 master weights that the matmul
 * kernels read through {@link #widen}.
 *
 * <p>Written without {@code Float.floatToRawIntBits} / {@code Float.intBitsToFloat}: TornadoVM 5.2's OpenCL (and PTX)
 * code generator has no bit reinterpretation (Graal's ReinterpretNode ends in {@code TornadoInternalError:
 * unimplemented}, OCLArithmeticTool.emitReinterpret), so the bits are reached by exact arithmetic instead: scalings by
 * powers of two, comparisons, an int conversion of a value in [0, 256] and integer ops, none of which rounds. That
 * also holds under TornadoVM's default OpenCL flags ({@code -cl-fast-relaxed-math}): no step depends on an
 * association order or on a NaN or infinity being honoured.
 * <ul>
 * <li>{@link #round(float)}: finite x to the nearest bf16 value, ties to even, bit for bit the reference's
 * ({@code io.resflow.reference.Bf16}), subnormals included (their quantum 2^-133), a value past the largest bf16 to
 * infinity; -0 stays -0. A non-finite x is returned as it is (the reference's NaN also keeps its sign and gets its
 * quiet bit set; a device compiling with finite-math-only may not keep either: training stops on a non-finite loss
 * anyway).</li>
 * <li>{@link #bits(float)}: the same value's 16 bits (sign, 8 exponent bits, 7 mantissa bits); -0 gives +0's bits
 * (no sign test tells -0 from +0 without a reinterpretation), a NaN 0x7fc0.</li>
 * <li>{@link #widen}: bits back to the float, (1.m) 2^(e-127) as (128 + m) 2^-7 times a table of 2^(e-127)
 * ({@link #POW2}; e = 0 is 2^-126 with the leading 0, e = 255 infinity, so a NaN's bits widen to the infinity of
 * their sign).</li>
 * </ul>
 */
public final class Bf16Kernels {
    // round args: x[OFF + l STRIDE + i] for i < COUNT
    public static final int R_OFF = 0, R_STRIDE = 1, R_COUNT = 2;
    // roundCopy args: x[DST + l STRIDE + i] = bf16(x[SRC + l STRIDE + i]) for i < COUNT
    public static final int RC_DST = 0, RC_SRC = 1, RC_STRIDE = 2, RC_COUNT = 3;
    // addRounded args: x[DST + i] += bf16(x[SRC + i]) for i < COUNT
    public static final int A_DST = 0, A_SRC = 1, A_COUNT = 2;
    /** Entries of the widening table: one per biased exponent. */
    public static final int POW2 = 256;

    private Bf16Kernels() {
    }

    /** The widening table: entry e is 2^(e-127) for e in 1 .. 254, 2^-126 for e = 0 (subnormals), infinity for 255. */
    public static float[] pow2Table() {
        float[] t = new float[POW2];
        for (int e = 0; e < POW2; e++) {
            t[e] = e == 255 ? Float.POSITIVE_INFINITY : Math.scalb(1f, Math.max(e, 1) - 127);
        }
        return t;
    }

    /** y in [0, 256] to the nearest integer, ties to even (the int conversion and the difference are exact). */
    private static int nearestEven(float y) {
        int i = (int) y;
        float f = y - i;
        if (f > 0.5f || (f == 0.5f && (i & 1) == 1)) {
            i++;
        }
        return i;
    }

    /** x rounded to bf16 (nearest, ties to even) as a float; see the class comment for what is exact. */
    public static float round(float x, FloatArray pow2) {
        float a = Math.abs(x);
        float v = x;
        if (a < 0x1p-126f) {
            // zero and subnormals: the quantum is 2^-133; a 2^127 2^6 < 128 is exact, and the result i 2^-7 2^-126
            // too. The factors come from the table: as constants the compiler may fold them into one, 2^133, which
            // is no float
            if (0f < a) {
                v = nearestEven(a * pow2.get(254) * pow2.get(133)) * pow2.get(120) * pow2.get(1);
                v = x < 0f ? -v : v;
            }
        } else if (a < Float.POSITIVE_INFINITY) {
            // t = a 2^-E in [1, 2) by exact power-of-two steps, q = 2^(E-7) (times lo below 1, kept apart from q so
            // that neither is subnormal); the result is nearestEven(128 t) q lo, exact up to the overflow to infinity
            float t = a;
            float q = 0x1p-7f;
            float lo = 1f;
            if (t < 1f) {
                t *= 0x1p127f;
                lo = 0x1p-127f;
            }
            if (t >= 0x1p64f) {
                t *= 0x1p-64f;
                q *= 0x1p64f;
            }
            if (t >= 0x1p32f) {
                t *= 0x1p-32f;
                q *= 0x1p32f;
            }
            if (t >= 0x1p16f) {
                t *= 0x1p-16f;
                q *= 0x1p16f;
            }
            if (t >= 0x1p8f) {
                t *= 0x1p-8f;
                q *= 0x1p8f;
            }
            if (t >= 0x1p4f) {
                t *= 0x1p-4f;
                q *= 0x1p4f;
            }
            if (t >= 0x1p2f) {
                t *= 0x1p-2f;
                q *= 0x1p2f;
            }
            if (t >= 2f) {
                t *= 0.5f;
                q *= 2f;
            }
            v = nearestEven(t * 128f) * q * lo;
            v = x < 0f ? -v : v;
        }
        return v;
    }

    /** The bf16 bits of x (round to nearest even) in the low 16 bits of the int; see the class comment. */
    public static int bits(float x, FloatArray pow2) {
        float a = Math.abs(x);
        int sign = x < 0f ? 0x8000 : 0;
        int r = 0x7fc0; // NaN
        if (a < 0x1p-126f) {
            r = nearestEven(a * pow2.get(254) * pow2.get(133)); // as in round; 128: the smallest normal's bits
        } else if (a < Float.POSITIVE_INFINITY) {
            float t = a;
            int e = 127; // the biased exponent of t's power of two
            if (t < 1f) {
                t *= 0x1p127f;
                e = 0;
            }
            if (t >= 0x1p64f) {
                t *= 0x1p-64f;
                e += 64;
            }
            if (t >= 0x1p32f) {
                t *= 0x1p-32f;
                e += 32;
            }
            if (t >= 0x1p16f) {
                t *= 0x1p-16f;
                e += 16;
            }
            if (t >= 0x1p8f) {
                t *= 0x1p-8f;
                e += 8;
            }
            if (t >= 0x1p4f) {
                t *= 0x1p-4f;
                e += 4;
            }
            if (t >= 0x1p2f) {
                t *= 0x1p-2f;
                e += 2;
            }
            if (t >= 2f) {
                t *= 0.5f;
                e += 1;
            }
            // mantissa 128 .. 256; 256 carries into the exponent (up to 255 << 7: infinity)
            r = (e << 7) + nearestEven(t * 128f) - 128;
        } else if (Float.MAX_VALUE < a) {
            r = 0x7f80;
        }
        return r == 0x7fc0 ? r : sign | r;
    }

    /** The float a bf16 value stands for; {@code pow2} is {@link #pow2Table()} on the device. */
    public static float widen(short h, FloatArray pow2) {
        // branch-free (TornadoVM 5.2 fails to compile the matmul kernels with a conditional here): the leading 1 is
        // (e + 255) >> 8 (0 for e = 0, else 1), the sign a factor 1 or -1 (exact, and -0 for the bits of -0)
        int u = h & 0xffff;
        int e = u >> 7 & 0xff;
        int m = u & 0x7f | (e + 255) >> 8 << 7;
        return m * 0x1p-7f * pow2.get(e) * (1 - (u >> 14 & 2));
    }

    // x[off + l stride + i] = bf16(x[off + l stride + i]) for i < n, l = layer[0]. Launch: n work-items. (Not named
    // round: the kernel takes its method's name, and round is an OpenCL built-in, so clCreateKernel fails with -46.)
    public static void rounding(KernelContext ctx, FloatArray x, FloatArray pow2, IntArray layer, IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(R_COUNT)) {
            int at = m.get(R_OFF) + layer.get(0) * m.get(R_STRIDE) + i;
            x.set(at, round(x.get(at), pow2));
        }
    }

    // x[dst + l stride + i] = bf16(x[src + l stride + i]) for i < n (the bf16 copy of a block input that is also the
    // skip and stays fp32). Launch: n work-items.
    public static void roundCopy(KernelContext ctx, FloatArray x, FloatArray pow2, IntArray layer, IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(RC_COUNT)) {
            int l = layer.get(0) * m.get(RC_STRIDE);
            x.set(m.get(RC_DST) + l + i, round(x.get(m.get(RC_SRC) + l + i), pow2));
        }
    }

    // x[dst + i] += bf16(x[src + i]) for i < n (a matmul's input gradient, rounded on its own, joins the stream's).
    // Launch: n work-items.
    public static void addRounded(KernelContext ctx, FloatArray x, FloatArray pow2, IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(A_COUNT)) {
            int at = m.get(A_DST) + i;
            x.set(at, x.get(at) + round(x.get(m.get(A_SRC) + i), pow2));
        }
    }

    // w[i] = the bf16 bits of p[i] for i < m[0]: the 16-bit copy of every parameter, made once per step from the fp32
    // masters. Launch: m[0] work-items.
    public static void weights(KernelContext ctx, ShortArray w, FloatArray p, FloatArray pow2, IntArray m) {
        int i = ctx.globalIdx;
        if (i < m.get(0)) {
            w.set(i, (short) bits(p.get(i), pow2));
        }
    }

    /** Names a 16-bit buffer as an argument without changing it (flag holds 0): the owner graph's hold on it. */
    public static void touch(KernelContext ctx, ShortArray a, FloatArray b, IntArray flag) {
        if (ctx.globalIdx == 0 && flag.get(0) == 1) {
            a.set(0, (short) b.get(0));
        }
    }
}
