package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * A linear layer (the jvm kernels of {@link io.resflow.reference.Matmul}): all three products run on the one strided
 * GEMM core {@link Sgemm}, with no transposed copies of whole matrices; the bias gradient is a column-partitioned sum
 * over rows, rows in order.
 */
final class Matmul {
    private static final VectorSpecies<Float> SP = JvmOps.SP;
    private static final int L = JvmOps.L;

    private final Exec x;
    private final Sgemm.Job gemm = new Sgemm.Job();
    private final BiasBwd biasBwd = new BiasBwd();

    Matmul(Exec x) {
        this.x = x;
    }

    // inp (N,C), weight (OC,C), bias (OC) or null -> out (N,OC) = inp weight^T + bias
    void forward(float[] out, float[] inp, float[] weight, float[] bias, int N, int C, int OC) {
        // A = inp rows, B(k=c, j=o) = W[o][c]
        Sgemm.Job j = gemm.set(inp, C, 1, weight, 1, C, out, OC, bias, false, N, C, OC);
        x.run(j, j.prepare(x.threads));
    }

    // dout (N,OC) -> dinp (N,C) += dout weight, dweight (OC,C) += dout^T inp, dbias (OC) += sum_n dout
    void backward(float[] dinp, float[] dweight, float[] dbias, float[] dout, float[] inp, float[] weight, int N, int C,
            int OC) {
        if (dinp != null) {
            // dinp (N,C) += dout (N,OC) . W (OC,C)
            Sgemm.Job j = gemm.set(dout, OC, 1, weight, C, 1, dinp, C, null, true, N, OC, C);
            x.run(j, j.prepare(x.threads));
        }
        if (dweight != null) {
            // dW (OC,C) += dout^T (OC,N) . inp (N,C): A(i=o, k=n) = dout[n][o]
            Sgemm.Job j = gemm.set(dout, 1, OC, inp, C, 1, dweight, C, null, true, OC, N, C);
            x.run(j, j.prepare(x.threads));
        }
        if (dbias != null) {
            BiasBwd j = biasBwd;
            j.db = dbias;
            j.dout = dout;
            j.N = N;
            j.OC = OC;
            x.run(j, (OC + Exec.cols() - 1) / Exec.cols());
        }
    }

    private static final class BiasBwd extends WorkerPool.Job {
        float[] db, dout;
        int N, OC;

        @Override
        public void task(int i, Scratch s) {
            int c0 = i * Exec.cols();
            int c1 = Math.min(OC, c0 + Exec.cols());
            for (int c = c0; c < c1; c += L) {
                VectorMask<Float> m = SP.indexInRange(c, c1);
                FloatVector acc = FloatVector.zero(SP);
                for (int r = 0; r < N; r++) {
                    acc = FloatVector.fromArray(SP, dout, r * OC + c, m).add(acc);
                }
                FloatVector.fromArray(SP, db, c, m).add(acc).intoArray(db, c, m);
            }
        }
    }
}
