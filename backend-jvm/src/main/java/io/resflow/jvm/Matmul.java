package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * A linear layer (the jvm kernels of {@link io.resflow.reference.Matmul}): all three products run on the one strided
 * GEMM core {@link Sgemm}, with no transposed copies of whole matrices; the bias gradient is a column-partitioned sum
 * over rows, rows in order. A forward of one row (a decode step) is a matrix-vector product instead ({@link Gemv}): it
 * streams each weight row once with no packing, which is what bounds a decode step's time.
 */
final class Matmul extends JvmOp {
    private final Sgemm.Job gemm = new Sgemm.Job();
    private final BiasBwd biasBwd = new BiasBwd();
    private final Gemv gemv = new Gemv();
    private final Bf16 bf16; // null in fp32; in bf16 the weights' and biases' bf16 copies

    Matmul(Exec x, Bf16 bf16) {
        super(x);
        this.bf16 = bf16;
    }

    // inp (N,C), weight (OC,C), bias (OC) or null -> out (N,OC) = inp weight^T + bias
    void forward(float[] out, float[] inp, float[] weight, float[] bias, int N, int C, int OC) {
        short[] w16 = bf16 == null ? null : bf16.weight(weight, OC * C);
        if (bf16 != null) {
            bias = bf16.bias(bias, OC);
        }
        if (N == 1) {
            Gemv g = gemv;
            g.out = out;
            g.inp = inp;
            g.w = w16 == null ? weight : null;
            g.w16 = w16;
            g.bias = bias;
            g.C = C;
            g.OC = OC;
            x.run(g, (OC + Gemv.ROWS - 1) / Gemv.ROWS);
            return;
        }
        // A = inp rows, B(k=c, j=o) = W[o][c]
        Sgemm.Job j = gemm.set(inp, C, 1, w16 == null ? weight : null, 1, C, out, OC, bias, false, N, C, OC);
        j.b16 = w16;
        x.run(j, j.prepare(x.threads));
    }

    // dout (N,OC) -> dinp (N,C) += dout weight, dweight (OC,C) += dout^T inp, dbias (OC) += sum_n dout; add false
    // stores instead (the GEMM's first k block writes C, the bias sum is stored)
    void backward(float[] dinp, float[] dweight, float[] dbias, float[] dout, float[] inp, float[] weight, int N, int C,
            int OC, boolean add) {
        if (dinp != null) {
            // dinp (N,C) += dout (N,OC) . W (OC,C)
            short[] w16 = bf16 == null ? null : bf16.weight(weight, OC * C);
            Sgemm.Job j = gemm.set(dout, OC, 1, w16 == null ? weight : null, C, 1, dinp, C, null, add, N, OC, C);
            j.b16 = w16;
            x.run(j, j.prepare(x.threads));
        }
        if (dweight != null) {
            // dW (OC,C) += dout^T (OC,N) . inp (N,C): A(i=o, k=n) = dout[n][o]
            Sgemm.Job j = gemm.set(dout, 1, OC, inp, C, 1, dweight, C, null, add, OC, N, C);
            x.run(j, j.prepare(x.threads));
        }
        if (dbias != null) {
            BiasBwd j = biasBwd;
            j.db = dbias;
            j.add = add;
            j.dout = dout;
            j.N = N;
            j.OC = OC;
            x.run(j, (OC + Exec.cols() - 1) / Exec.cols());
        }
    }

    /**
     * out (OC) = W (OC,C) inp (C) + bias: {@link #ROWS} output rows per task, four at a time sharing each load of the
     * input; per row the lanes are summed in index order, then the scalar tail, then the bias.
     */
    private static final class Gemv extends WorkerPool.Job {
        static final int ROWS = 64;
        float[] out, inp, w, bias;
        short[] w16; // the weight as bf16 bits instead of w
        int C, OC;

        @Override
        public void task(int i, Scratch s) {
            int o0 = i * ROWS;
            int o1 = Math.min(OC, o0 + ROWS);
            int vec = SP.loopBound(C);
            float[] lanes = s.get(Scratch.LANES, 4 * L);
            if (w16 != null) {
                task16(o0, o1, vec, lanes);
                return;
            }
            int o = o0;
            for (; o + 4 <= o1; o += 4) {
                int r0 = o * C;
                int r1 = r0 + C;
                int r2 = r1 + C;
                int r3 = r2 + C;
                FloatVector a0 = FloatVector.zero(SP);
                FloatVector a1 = FloatVector.zero(SP);
                FloatVector a2 = FloatVector.zero(SP);
                FloatVector a3 = FloatVector.zero(SP);
                for (int c = 0; c < vec; c += L) {
                    FloatVector xv = FloatVector.fromArray(SP, inp, c);
                    a0 = FloatVector.fromArray(SP, w, r0 + c).fma(xv, a0);
                    a1 = FloatVector.fromArray(SP, w, r1 + c).fma(xv, a1);
                    a2 = FloatVector.fromArray(SP, w, r2 + c).fma(xv, a2);
                    a3 = FloatVector.fromArray(SP, w, r3 + c).fma(xv, a3);
                }
                a0.intoArray(lanes, 0);
                a1.intoArray(lanes, L);
                a2.intoArray(lanes, 2 * L);
                a3.intoArray(lanes, 3 * L);
                for (int k = 0; k < 4; k++) {
                    out[o + k] = finish(VMath.sumLanes(lanes, k * L), (o + k) * C, vec);
                }
            }
            for (; o < o1; o++) {
                int r = o * C;
                FloatVector a = FloatVector.zero(SP);
                for (int c = 0; c < vec; c += L) {
                    a = FloatVector.fromArray(SP, w, r + c).fma(FloatVector.fromArray(SP, inp, c), a);
                }
                a.intoArray(lanes, 0);
                out[o] = finish(VMath.sumLanes(lanes, 0), r, vec);
            }
        }

        /** {@link #task} over bf16 weight rows: half the bytes streamed, each L values widened by a shift. */
        private void task16(int o0, int o1, int vec, float[] lanes) {
            int o = o0;
            for (; o + 4 <= o1; o += 4) {
                int r0 = o * C;
                int r1 = r0 + C;
                int r2 = r1 + C;
                int r3 = r2 + C;
                FloatVector a0 = FloatVector.zero(SP);
                FloatVector a1 = FloatVector.zero(SP);
                FloatVector a2 = FloatVector.zero(SP);
                FloatVector a3 = FloatVector.zero(SP);
                for (int c = 0; c < vec; c += L) {
                    FloatVector xv = FloatVector.fromArray(SP, inp, c);
                    a0 = Bf16.widen(w16, r0 + c).fma(xv, a0);
                    a1 = Bf16.widen(w16, r1 + c).fma(xv, a1);
                    a2 = Bf16.widen(w16, r2 + c).fma(xv, a2);
                    a3 = Bf16.widen(w16, r3 + c).fma(xv, a3);
                }
                a0.intoArray(lanes, 0);
                a1.intoArray(lanes, L);
                a2.intoArray(lanes, 2 * L);
                a3.intoArray(lanes, 3 * L);
                for (int k = 0; k < 4; k++) {
                    out[o + k] = finish(VMath.sumLanes(lanes, k * L), (o + k) * C, vec);
                }
            }
            for (; o < o1; o++) {
                int r = o * C;
                FloatVector a = FloatVector.zero(SP);
                for (int c = 0; c < vec; c += L) {
                    a = Bf16.widen(w16, r + c).fma(FloatVector.fromArray(SP, inp, c), a);
                }
                a.intoArray(lanes, 0);
                out[o] = finish(VMath.sumLanes(lanes, 0), r, vec);
            }
        }

        private float finish(float acc, int row, int vec) {
            for (int c = vec; c < C; c++) {
                acc += (w16 != null ? io.resflow.reference.Bf16.widen(w16[row + c]) : w[row + c]) * inp[c];
            }
            int o = row / C;
            return bias == null ? acc : acc + bias[o];
        }
    }

    private static final class BiasBwd extends WorkerPool.Job {
        float[] db, dout;
        boolean add;
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
                (add ? FloatVector.fromArray(SP, db, c, m).add(acc) : acc).intoArray(db, c, m);
            }
        }
    }
}
