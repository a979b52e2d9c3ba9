package io.resflow.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

/**
 * The block transposes against the definition, each one whatever this JVM's width picks ({@link Transpose#block}
 * takes one of them): blocks inside larger strided arrays, so a wrong stride or offset shows, and the rest of the
 * destination untouched.
 */
class TransposeTest {

    /** dst = a copy of init with the n x n block of src at so (row stride ld) transposed into dOff (row stride ldd). */
    static float[] expected(float[] src, int so, int ld, float[] init, int dOff, int ldd, int n) {
        float[] d = init.clone();
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < n; c++) {
                d[dOff + c * ldd + r] = src[so + r * ld + c];
            }
        }
        return d;
    }

    interface Block {
        void run(float[] src, int so, int ld, float[] dst, int dOff, int ldd);
    }

    static void check(String name, int n, Block t) {
        int ld = 3 * n + 5;
        int ldd = 2 * n + 3;
        float[] src = new float[ld * (n + 2) + 7];
        for (int i = 0; i < src.length; i++) {
            src[i] = i * 0.5f - 3f;
        }
        float[] init = new float[ldd * (n + 2) + 9];
        java.util.Arrays.fill(init, -7f);
        for (int so : new int[] {0, 3, ld + 1}) {
            for (int dOff : new int[] {0, 2, ldd + 5}) {
                float[] dst = init.clone();
                t.run(src, so, ld, dst, dOff, ldd);
                assertArrayEquals(expected(src, so, ld, init, dOff, ldd, n), dst, name + " so=" + so + " dOff=" + dOff);
            }
        }
    }

    @Test
    void everyBlockKind() {
        check("t16", 16, Transpose::t16);
        check("t8", 8, Transpose::t8);
        check("scalar 8", 8, (s, so, ld, d, o, ldd) -> Transpose.scalar(s, so, ld, d, o, ldd, 8));
        check("block (L = " + Transpose.L + ", select8 " + Transpose.SELECT8 + ")", Transpose.L, Transpose::block);
    }
}
