package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * LayerNorm over the last dimension (the jvm kernels of {@link io.resflow.reference.LayerNorm}); with the mean left
 * out the same kernels are {@link RmsNorm}'s. Forward: row-parallel, mean and variance in one pass. Backward: dinp
 * row-parallel; dw and db column-partitioned, rows summed in order (determinism). With add false the backward
 * stores its results where it would add them (the first write of a gradient).
 */
final class LayerNorm extends JvmOp {
    private final Fwd fwd = new Fwd();
    private final BwdRows bwdRows = new BwdRows();
    private final BwdCols bwdCols = new BwdCols();

    LayerNorm(Exec x) {
        super(x);
    }

    // inp (N,C), w (C), b (C) or null -> out (N,C), mean (N), rstd (N)
    void forward(float[] out, float[] mean, float[] rstd, float[] inp, float[] w, float[] b, int N, int C, float eps) {
        forward(true, out, mean, rstd, inp, w, b, N, C, eps);
    }

    // dout (N,C) -> dinp (N,C) +=, dw (C) +=, db (C) += (each may be null); add false stores instead
    void backward(float[] dinp, float[] dw, float[] db, float[] dout, float[] inp, float[] w, float[] mean,
            float[] rstd, int N, int C, boolean add) {
        backward(true, dinp, dw, db, dout, inp, w, mean, rstd, N, C, add);
    }

    /** ln = false: RMSNorm (no mean, no bias). */
    void forward(boolean ln, float[] out, float[] mean, float[] rstd, float[] inp, float[] w, float[] b, int N, int C,
            float eps) {
        Fwd j = fwd;
        j.ln = ln;
        j.out = out;
        j.mean = mean;
        j.rstd = rstd;
        j.inp = inp;
        j.w = w;
        j.b = b;
        j.N = N;
        j.C = C;
        j.eps = eps;
        j.tasks = x.rowTasks(N, C);
        x.run(j, j.tasks);
    }

    void backward(boolean ln, float[] dinp, float[] dw, float[] db, float[] dout, float[] inp, float[] w,
            float[] mean, float[] rstd, int N, int C, boolean add) {
        if (dinp != null) {
            BwdRows j = bwdRows;
            j.ln = ln;
            j.add = add;
            j.dinp = dinp;
            j.dout = dout;
            j.inp = inp;
            j.w = w;
            j.mean = mean;
            j.rstd = rstd;
            j.N = N;
            j.C = C;
            j.tasks = x.rowTasks(N, C);
            x.run(j, j.tasks);
        }
        if (dw != null || db != null) {
            BwdCols j = bwdCols;
            j.ln = ln;
            j.add = add;
            j.dw = dw;
            j.db = db;
            j.dout = dout;
            j.inp = inp;
            j.mean = mean;
            j.rstd = rstd;
            j.N = N;
            j.C = C;
            x.run(j, (C + Exec.cols() - 1) / Exec.cols());
        }
    }

    /**
     * One pass for the statistics: sums of (x - x0) and (x - x0)^2, shifted by the row's first value to avoid the
     * cancellation of the naive E[x^2] - E[x]^2; a second pass writes the normalised row.
     */
    static final class Fwd extends WorkerPool.Job {
        boolean ln;
        float[] out, mean, rstd, inp, w, b;
        int N, C, tasks;
        float eps;

        @Override
        public void task(int i, Scratch s) {
            int r0 = (int) ((long) N * i / tasks);
            int r1 = (int) ((long) N * (i + 1) / tasks);
            int bound = SP.loopBound(C);
            float[] tmp = s.get(Scratch.LANES, 2 * L);
            for (int r = r0; r < r1; r++) {
                int o = r * C;
                float shift = ln ? inp[o] : 0f;
                FloatVector sh = FloatVector.broadcast(SP, shift);
                FloatVector s1a = FloatVector.zero(SP), s1b = s1a, s2a = s1a, s2b = s1a;
                int c = 0;
                for (; c + 2 * L <= bound; c += 2 * L) {
                    FloatVector x0 = FloatVector.fromArray(SP, inp, o + c).sub(sh);
                    FloatVector x1 = FloatVector.fromArray(SP, inp, o + c + L).sub(sh);
                    s1a = x0.add(s1a);
                    s1b = x1.add(s1b);
                    s2a = x0.fma(x0, s2a);
                    s2b = x1.fma(x1, s2b);
                }
                if (c < C) {
                    for (; c < C; c += L) {
                        VectorMask<Float> m = SP.indexInRange(c, C);
                        FloatVector x0 = FloatVector.fromArray(SP, inp, o + c, m).sub(sh, m);
                        s1a = x0.add(s1a);
                        s2a = x0.fma(x0, s2a);
                    }
                }
                float invC = 1f / C;
                s1a.add(s1b).intoArray(tmp, 0);
                s2a.add(s2b).intoArray(tmp, L);
                float m1 = VMath.sumLanes(tmp, 0) * invC;
                float m2 = VMath.sumLanes(tmp, L) * invC;
                float mu;
                float sc;
                if (ln) {
                    float var = Math.max(0f, m2 - m1 * m1);
                    mu = shift + m1;
                    sc = (float) (1.0 / Math.sqrt(var + eps));
                    mean[r] = mu;
                } else {
                    mu = 0f;
                    sc = (float) (1.0 / Math.sqrt(m2 + eps));
                }
                rstd[r] = sc;
                FloatVector vmu = FloatVector.broadcast(SP, mu);
                FloatVector vs = FloatVector.broadcast(SP, sc);
                c = 0;
                for (; c < bound; c += L) {
                    FloatVector xh = FloatVector.fromArray(SP, inp, o + c).sub(vmu).mul(vs);
                    FloatVector y = b != null
                            ? xh.fma(FloatVector.fromArray(SP, w, c), FloatVector.fromArray(SP, b, c))
                            : xh.mul(FloatVector.fromArray(SP, w, c));
                    y.intoArray(out, o + c);
                }
                for (; c < C; c++) {
                    float xh = (inp[o + c] - mu) * sc;
                    out[o + c] = b != null ? Math.fma(xh, w[c], b[c]) : xh * w[c];
                }
            }
        }
    }

    /** dinp += rstd (g - mean(g) - xhat mean(g xhat)), g = dout w (rmsnorm: without the mean(g) term). */
    static final class BwdRows extends WorkerPool.Job {
        boolean ln, add;
        float[] dinp, dout, inp, w, mean, rstd;
        int N, C, tasks;

        @Override
        public void task(int i, Scratch s) {
            int r0 = (int) ((long) N * i / tasks);
            int r1 = (int) ((long) N * (i + 1) / tasks);
            int bound = SP.loopBound(C);
            float invC = 1f / C;
            float[] tmp = s.get(Scratch.LANES, 2 * L);
            for (int r = r0; r < r1; r++) {
                int o = r * C;
                float mu = ln ? mean[r] : 0f;
                float rs = rstd[r];
                FloatVector vmu = FloatVector.broadcast(SP, mu);
                FloatVector vrs = FloatVector.broadcast(SP, rs);
                FloatVector sg = FloatVector.zero(SP), sgx = sg;
                int c = 0;
                for (; c < bound; c += L) {
                    FloatVector xh = FloatVector.fromArray(SP, inp, o + c).sub(vmu).mul(vrs);
                    FloatVector g = FloatVector.fromArray(SP, dout, o + c).mul(FloatVector.fromArray(SP, w, c));
                    sg = g.add(sg);
                    sgx = g.fma(xh, sgx);
                }
                if (c < C) {
                    VectorMask<Float> m = SP.indexInRange(c, C);
                    FloatVector xh = FloatVector.fromArray(SP, inp, o + c, m).sub(vmu).mul(vrs);
                    FloatVector g = FloatVector.fromArray(SP, dout, o + c, m).mul(FloatVector.fromArray(SP, w, c, m));
                    sg = g.add(sg);
                    sgx = g.fma(xh, sgx);
                }
                sg.intoArray(tmp, 0);
                sgx.intoArray(tmp, L);
                float mg = ln ? VMath.sumLanes(tmp, 0) * invC : 0f;
                float mgx = VMath.sumLanes(tmp, L) * invC;
                FloatVector vmg = FloatVector.broadcast(SP, mg);
                FloatVector vmgx = FloatVector.broadcast(SP, mgx);
                c = 0;
                for (; c < bound; c += L) {
                    FloatVector xh = FloatVector.fromArray(SP, inp, o + c).sub(vmu).mul(vrs);
                    FloatVector g = FloatVector.fromArray(SP, dout, o + c).mul(FloatVector.fromArray(SP, w, c));
                    FloatVector d = g.sub(vmg).sub(xh.mul(vmgx)).mul(vrs);
                    (add ? FloatVector.fromArray(SP, dinp, o + c).add(d) : d).intoArray(dinp, o + c);
                }
                for (; c < C; c++) {
                    float xh = (inp[o + c] - mu) * rs;
                    float g = dout[o + c] * w[c];
                    float d = (g - mg - xh * mgx) * rs;
                    dinp[o + c] = add ? dinp[o + c] + d : d;
                }
            }
        }
    }

    /** dw += sum_n dout xhat, db += sum_n dout: each task owns Exec.cols() columns, rows summed in order. */
    static final class BwdCols extends WorkerPool.Job {
        boolean ln, add;
        float[] dw, db, dout, inp, mean, rstd;
        int N, C;

        @Override
        public void task(int i, Scratch s) {
            int c0 = i * Exec.cols();
            int c1 = Math.min(C, c0 + Exec.cols());
            for (int c = c0; c < c1; c += L) {
                VectorMask<Float> m = SP.indexInRange(c, c1);
                FloatVector aw = FloatVector.zero(SP), ab = aw;
                for (int r = 0; r < N; r++) {
                    int o = r * C + c;
                    FloatVector d = FloatVector.fromArray(SP, dout, o, m);
                    FloatVector x = FloatVector.fromArray(SP, inp, o, m);
                    if (ln) {
                        x = x.sub(mean[r]);
                    }
                    aw = d.fma(x.mul(rstd[r]), aw);
                    ab = d.add(ab);
                }
                if (dw != null) {
                    (add ? FloatVector.fromArray(SP, dw, c, m).add(aw) : aw).intoArray(dw, c, m);
                }
                if (db != null) {
                    (add ? FloatVector.fromArray(SP, db, c, m).add(ab) : ab).intoArray(db, c, m);
                }
            }
        }
    }
}
