package io.resflow.jvm;

import io.resflow.engine.Ops;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The linear layer ({@link Matmul} on {@link Sgemm}) against the reference: several GEMM panels and k blocks, row
 * tails, OC = 1, with and without bias, null gradient outputs skipped, 1/2/3 threads.
 */
class MatmulTest extends OpCheck {

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void matmul(int threads) {
        JvmOps ops = new JvmOps(threads);
        // K = 520 is two k blocks where K is not taken whole (a 512 KiB L2) and one where it is; K = 2100 (C in the
        // forward, OC in dinp, N = 2100 rows in dW) is several blocks on any L2 up to 2 MiB (see Sgemm.Tile)
        int[][] shapes = {{37, 48, 131}, {1, 7, 5}, {5, 300, 67}, {70, 520, 200}, {64, 64, 64}, {3, 17, 1},
            {9, 2100, 40}, {2100, 24, 9}, {11, 40, 2100}};
        for (int[] sh : shapes) {
            int N = sh[0], C = sh[1], OC = sh[2];
            String tag = " N=" + N + " C=" + C + " OC=" + OC;
            float[] inp = rand(N * C, 1), w = rand(OC * C, 1), b = rand(OC, 1), dout = rand(N * OC, 1);
            for (float[] bias : new float[][] {b, null}) {
                float[] o1 = rand(N * OC, 1), o2 = o1.clone();
                ref.matmulForward(o1, inp, w, bias, N, C, OC);
                ops.matmulForward(o2, inp, w, bias, N, C, OC);
                close("matmul fwd" + tag, o2, o1);
            }
            float[] di1 = rand(N * C, 1), dw1 = rand(OC * C, 1), db1 = rand(OC, 1);
            float[] di2 = di1.clone(), dw2 = dw1.clone(), db2 = db1.clone();
            ref.matmulBackward(di1, dw1, db1, dout, inp, w, N, C, OC, true);
            ops.matmulBackward(di2, dw2, db2, dout, inp, w, N, C, OC, true);
            close("matmul dinp" + tag, di2, di1);
            close("matmul dw" + tag, dw2, dw1);
            close("matmul db" + tag, db2, db1);
            // null outputs are skipped
            float[] di3 = di1.clone();
            ops.matmulBackward(di3, null, null, dout, inp, w, N, C, OC, true);
            float[] dw3 = dw1.clone();
            ops.matmulBackward(null, dw3, null, dout, inp, w, N, C, OC, true);
        }
    }

    /** The tile a Surefire execution forces (-Dresflow.jvm.tile=RxV) is the one the GEMM runs. */
    @Test
    void forcedTileTakesEffect() {
        System.out.println("jvm tests: GEMM tile " + Sgemm.MR + " x " + Sgemm.NV + " vectors, NR " + Sgemm.NR);
        String forced = System.getProperty("resflow.jvm.tile", "");
        if (!forced.isEmpty()) {
            assertEquals(forced, Sgemm.MR + "x" + Sgemm.NV);
        }
    }
}
