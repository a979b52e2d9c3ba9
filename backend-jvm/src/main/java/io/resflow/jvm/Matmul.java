package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

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
     * out (OC) = W (OC,C) inp (C) + bias: {@link #ROWS} output rows per task, one row at a time. A decode step's
     * products are bound by the weight bytes they stream (GPT-2's head alone is 154 MB in fp32), and one sequential
     * stream per thread kept the memory busier than four rows read side by side sharing each load of the input (on
     * Zen 4, the 768 x 50257 head in bf16: 2.2 ms one row at a time against 4.2 ms four at a time; README). Two
     * accumulators per row (alternate vectors), summed lane by lane in index order, then the scalar tail, then the
     * bias.
     */
    private static final class Gemv extends WorkerPool.Job {
        static final int ROWS = 64;
        /** 2L shorts: the bits of the float species. */
        static final VectorSpecies<Short> S2 = VectorSpecies.of(short.class, SP.vectorShape());
        float[] out, inp, w, bias;
        short[] w16; // the weight as bf16 bits instead of w
        int C, OC;

        @Override
        public void task(int i, Scratch s) {
            int o0 = i * ROWS;
            int o1 = Math.min(OC, o0 + ROWS);
            int vec2 = C / (2 * L) * (2 * L);
            float[] lanes = s.get(Scratch.LANES, L);
            if (w16 != null) {
                task16(o0, o1, vec2, lanes, s);
                return;
            }
            for (int o = o0; o < o1; o++) {
                int r = o * C;
                FloatVector a = FloatVector.zero(SP);
                FloatVector b = a;
                for (int c = 0; c < vec2; c += 2 * L) {
                    a = FloatVector.fromArray(SP, w, r + c).fma(FloatVector.fromArray(SP, inp, c), a);
                    b = FloatVector.fromArray(SP, w, r + c + L).fma(FloatVector.fromArray(SP, inp, c + L), b);
                }
                a.add(b).intoArray(lanes, 0);
                out[o] = finish(VMath.sumLanes(lanes, 0), r, vec2);
            }
        }

        /**
         * {@link #task} over bf16 weight rows: half the bytes streamed. 2L bf16 values are loaded as one vector of L
         * ints, each holding two: the even element in its low half, the odd one in its high half, so a shift gives the
         * even elements as floats and a mask the odd ones, two instructions for 2L values. The input is laid out to
         * match once per task (per 2L chunk: its even elements, then its odd ones); the even and odd products go to
         * two accumulators.
         */
        private void task16(int o0, int o1, int vec2, float[] lanes, Scratch s) {
            float[] xs = s.get(Scratch.GEMV_X, C);
            for (int c0 = 0; c0 < vec2; c0 += 2 * L) {
                for (int l = 0; l < L; l++) {
                    xs[c0 + l] = inp[c0 + 2 * l];
                    xs[c0 + L + l] = inp[c0 + 2 * l + 1];
                }
            }
            for (int o = o0; o < o1; o++) {
                int r = o * C;
                FloatVector a = FloatVector.zero(SP);
                FloatVector b = a;
                for (int c = 0; c < vec2; c += 2 * L) {
                    IntVector w = ShortVector.fromArray(S2, w16, r + c).reinterpretAsInts();
                    a = w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(SP, xs, c), a);
                    b = w.and(0xffff0000).reinterpretAsFloats().fma(FloatVector.fromArray(SP, xs, c + L), b);
                }
                a.add(b).intoArray(lanes, 0);
                out[o] = finish(VMath.sumLanes(lanes, 0), r, vec2);
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
