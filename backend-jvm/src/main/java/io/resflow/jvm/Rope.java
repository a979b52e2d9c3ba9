package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * Rotary position embedding, rotate-half form (the jvm kernel of {@link io.resflow.reference.Rope}): row-parallel,
 * in place, from cos/sin tables computed once per (T, head_dim, theta) with StrictMath (the same bits interpreted or
 * compiled). Backward is the transposed rotation (sin negated).
 */
final class Rope extends JvmOp {
    private final Job job = new Job();

    Rope(Exec x) {
        super(x);
    }

    private float[] ropeCos = new float[0];
    private float[] ropeSin = new float[0];
    private int ropeT = -1;
    private int ropeHd = -1;
    private double ropeTheta = Double.NaN;

    /** Tables for at least positions 0 .. T-1 (a larger table serves: an entry depends on its position only). */
    private void ropeTables(int T, int hd, double theta) {
        if (T <= ropeT && hd == ropeHd && theta == ropeTheta) {
            return;
        }
        if (hd == ropeHd && theta == ropeTheta) {
            T = Math.max(T, 2 * ropeT); // decoding asks for one more position per step: grow geometrically
        }
        int half = hd / 2;
        ropeCos = new float[T * half];
        ropeSin = new float[T * half];
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < half; j++) {
                // StrictMath: the same bits whether this runs interpreted or compiled
                double angle = t * StrictMath.pow(theta, -2.0 * j / hd);
                ropeCos[t * half + j] = (float) StrictMath.cos(angle);
                ropeSin[t * half + j] = (float) StrictMath.sin(angle);
            }
        }
        ropeT = T;
        ropeHd = hd;
        ropeTheta = theta;
    }

    // qkv (B,T,(nh+2 nkv) hd), in place: rotate-half RoPE on every q and k head (pairs j, j+hd/2)
    void forward(float[] qkv, int B, int T, int nh, int nkv, int hd, double theta) {
        rope(qkv, B, T, nh, nkv, hd, theta, false);
    }

    // dqkv (B,T,(nh+2 nkv) hd), in place: the transposed rotation of the q and k parts
    void backward(float[] dqkv, int B, int T, int nh, int nkv, int hd, double theta) {
        rope(dqkv, B, T, nh, nkv, hd, theta, true);
    }

    // decoding one sequence: qkv (T,(nh+2 nkv) hd) at positions pos0 .. pos0+T-1, in place
    void forwardAt(float[] qkv, int T, int pos0, int nh, int nkv, int hd, double theta) {
        ropeTables(pos0 + T, hd, theta);
        run(qkv, 1, T, pos0, nh, nkv, hd, false);
    }

    private void rope(float[] data, int B, int T, int nh, int nkv, int hd, double theta, boolean transposed) {
        ropeTables(T, hd, theta);
        run(data, B, T, 0, nh, nkv, hd, transposed);
    }

    private void run(float[] data, int B, int T, int pos0, int nh, int nkv, int hd, boolean transposed) {
        Job j = job;
        j.x = data;
        j.cos = ropeCos;
        j.sin = ropeSin;
        j.T = T;
        j.pos0 = pos0;
        j.heads = nh + nkv;
        j.hd = hd;
        j.width = (nh + 2 * nkv) * hd;
        j.rows = B * T;
        j.transposed = transposed;
        j.tasks = x.rowTasks(j.rows, (long) j.heads * hd);
        x.run(j, j.tasks);
    }

    private static final class Job extends WorkerPool.Job {
        float[] x, cos, sin;
        int T, pos0, heads, hd, width, rows, tasks;
        boolean transposed;

        @Override
        public void task(int i, Scratch s) {
            int r0 = (int) ((long) rows * i / tasks);
            int r1 = (int) ((long) rows * (i + 1) / tasks);
            int half = hd / 2;
            for (int r = r0; r < r1; r++) {
                int tab = (pos0 + r % T) * half;
                for (int h = 0; h < heads; h++) {
                    int base = r * width + h * hd;
                    for (int j = 0; j < half; j += L) {
                        VectorMask<Float> m = SP.indexInRange(j, half);
                        FloatVector a = FloatVector.fromArray(SP, x, base + j, m);
                        FloatVector c = FloatVector.fromArray(SP, x, base + half + j, m);
                        FloatVector cs = FloatVector.fromArray(SP, cos, tab + j, m);
                        FloatVector sn = FloatVector.fromArray(SP, sin, tab + j, m);
                        if (transposed) {
                            sn = sn.neg();
                        }
                        a.mul(cs).sub(c.mul(sn)).intoArray(x, base + j, m);
                        c.mul(cs).add(a.mul(sn)).intoArray(x, base + half + j, m);
                    }
                }
            }
        }
    }
}
