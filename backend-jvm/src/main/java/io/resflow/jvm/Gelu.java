package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;

/**
 * GELU, tanh approximation (the jvm kernels of {@link io.resflow.reference.Gelu}), element-wise over fixed chunks.
 * gelu(x) = 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): one exp instead of a tanh
 * (see {@link VMath}).
 */
final class Gelu extends JvmOp {
    private static final float K = (float) Math.sqrt(2.0 / Math.PI);
    private static final float C3 = 0.044715f;

    private final Job job = new Job();

    Gelu(Exec x) {
        super(x);
    }

    // inp (n) -> out (n)
    void forward(float[] out, float[] inp, int n) {
        run(false, out, inp, null, n, false);
    }

    // dout (n) -> dinp (n) += gelu'(inp) dout (add false: =)
    void backward(float[] dinp, float[] inp, float[] dout, int n, boolean add) {
        run(true, dinp, inp, dout, n, add);
    }

    private void run(boolean backward, float[] o, float[] inp, float[] dout, int n, boolean add) {
        Job j = job;
        j.backward = backward;
        j.add = add;
        j.o = o;
        j.inp = inp;
        j.dout = dout;
        j.n = n;
        x.run(j, Exec.chunks(n));
    }

    private static final class Job extends WorkerPool.Job {
        boolean backward, add;
        float[] o, inp, dout;
        int n;

        @Override
        public void task(int t, Scratch s) {
            int i0 = t * Exec.CHUNK;
            int i1 = Math.min(n, i0 + Exec.CHUNK);
            if (backward) {
                backward(i0, i1);
            } else {
                forward(i0, i1);
            }
        }

        // unmasked vectors, then the scalar twin for the tail (same operations, same bits; masked loads and
        // stores are slow on AVX2)
        private void forward(int i0, int i1) {
            int bound = i0 + SP.loopBound(i1 - i0);
            int i = i0;
            for (; i < bound; i += L) {
                FloatVector x = FloatVector.fromArray(SP, inp, i);
                FloatVector u2 = x.mul(x).fma(FloatVector.broadcast(SP, C3), FloatVector.broadcast(SP, 1f))
                        .mul(x).mul(2f * K);
                x.mul(VMath.sigmoid(u2)).intoArray(o, i);
            }
            for (; i < i1; i++) {
                float x = inp[i];
                float u2 = Math.fma(x * x, C3, 1f) * x * (2f * K);
                o[i] = x * VMath.sigmoid(u2);
            }
        }

        // d gelu/dx = s + x s (1 - s) 2K (1 + 3c x^2), s = sigmoid(2u)
        private void backward(int i0, int i1) {
            int bound = i0 + SP.loopBound(i1 - i0);
            int i = i0;
            for (; i < bound; i += L) {
                FloatVector x = FloatVector.fromArray(SP, inp, i);
                FloatVector x2 = x.mul(x);
                FloatVector u2 = x2.fma(FloatVector.broadcast(SP, C3), FloatVector.broadcast(SP, 1f))
                        .mul(x).mul(2f * K);
                FloatVector sg = VMath.sigmoid(u2);
                FloatVector du = x2.fma(FloatVector.broadcast(SP, 3f * C3), FloatVector.broadcast(SP, 1f))
                        .mul(2f * K);
                FloatVector grad = x.mul(sg).mul(sg.neg().add(1f)).fma(du, sg);
                FloatVector d = FloatVector.fromArray(SP, dout, i);
                // a store is the same fma onto zero: the same bits as accumulating into a cleared buffer
                grad.fma(d, add ? FloatVector.fromArray(SP, o, i) : FloatVector.zero(SP)).intoArray(o, i);
            }
            for (; i < i1; i++) {
                float x = inp[i];
                float x2 = x * x;
                float u2 = Math.fma(x2, C3, 1f) * x * (2f * K);
                float sg = VMath.sigmoid(u2);
                float du = Math.fma(x2, 3f * C3, 1f) * (2f * K);
                float grad = Math.fma(x * sg * (-sg + 1f), du, sg);
                o[i] = Math.fma(grad, dout[i], add ? o[i] : 0f);
            }
        }
    }
}
