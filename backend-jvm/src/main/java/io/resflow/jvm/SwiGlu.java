package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * SwiGLU, out = silu(gate) * up over rows of [gate | up] (the jvm kernels of {@link io.resflow.reference.SwiGlu}),
 * element-wise over fixed chunks of the output.
 */
final class SwiGlu extends JvmOp {
    private final Job job = new Job();

    SwiGlu(Exec x) {
        super(x);
    }

    // inp (N,2F) = gate | up -> out (N,F) = silu(gate) * up
    void forward(float[] out, float[] inp, int N, int F) {
        run(false, out, inp, null, N, F, false);
    }

    // dout (N,F) -> dinp (N,2F) += (add false: =)
    void backward(float[] dinp, float[] inp, float[] dout, int N, int F, boolean add) {
        run(true, dinp, inp, dout, N, F, add);
    }

    private void run(boolean backward, float[] o, float[] inp, float[] dout, int N, int F, boolean add) {
        Job j = job;
        j.backward = backward;
        j.add = add;
        j.o = o;
        j.inp = inp;
        j.dout = dout;
        j.n = N * F;
        j.F = F;
        x.run(j, Exec.chunks(j.n));
    }

    private static final class Job extends WorkerPool.Job {
        boolean backward, add;
        float[] o, inp, dout;
        int n, F;

        // output element e = r*F + f; gate at r*2F + f, up at r*2F + F + f
        @Override
        public void task(int t, Scratch s) {
            int i1 = Math.min(n, t * Exec.CHUNK + Exec.CHUNK);
            int e = t * Exec.CHUNK;
            while (e < i1) {
                int r = e / F;
                int f0 = e - r * F;
                int f1 = Math.min(F, f0 + (i1 - e));
                int gb = r * 2 * F;
                for (int f = f0; f < f1; f += L) {
                    VectorMask<Float> m = SP.indexInRange(f, f1);
                    FloatVector g = FloatVector.fromArray(SP, inp, gb + f, m);
                    FloatVector u = FloatVector.fromArray(SP, inp, gb + F + f, m);
                    FloatVector sg = VMath.sigmoid(g);
                    FloatVector silu = g.mul(sg);
                    if (!backward) {
                        silu.mul(u).intoArray(o, r * F + f, m);
                    } else {
                        FloatVector dy = FloatVector.fromArray(SP, dout, r * F + f, m);
                        // dg = dy u sg (1 + g (1 - sg)), du = dy silu
                        FloatVector dg = dy.mul(u).mul(sg).mul(g.mul(sg.neg().add(1f)).add(1f));
                        (add ? FloatVector.fromArray(SP, o, gb + f, m).add(dg) : dg).intoArray(o, gb + f, m);
                        FloatVector up = add ? FloatVector.fromArray(SP, o, gb + F + f, m) : FloatVector.zero(SP);
                        dy.fma(silu, up).intoArray(o, gb + F + f, m);
                    }
                }
                e += f1 - f0;
            }
        }
    }
}
