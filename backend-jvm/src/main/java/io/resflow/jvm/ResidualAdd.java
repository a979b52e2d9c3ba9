package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;

/**
 * The residual join out = alpha * skip + gate * branch (the jvm kernels of {@link io.resflow.reference.ResidualAdd}),
 * element-wise over fixed chunks. Backward also returns sum(dout * branch), the gate's gradient, from per-chunk
 * partial sums added in chunk order (independent of the thread count).
 */
final class ResidualAdd extends JvmOp {
    private final Fwd fwd = new Fwd();
    private final Bwd bwd = new Bwd();

    ResidualAdd(Exec x) {
        super(x);
    }

    // skip (n), branch (n) -> out (n) = alpha * skip + gate * branch
    void forward(float[] out, float[] skip, float alpha, float[] branch, float gate, int n) {
        Fwd j = fwd;
        j.out = out;
        j.skip = skip;
        j.branch = branch;
        j.alpha = alpha;
        j.gate = gate;
        j.n = n;
        x.run(j, Exec.chunks(n));
    }

    // dout (n) -> dskip (n) += alpha dout, dbranch (n) += gate dout (either may be null; add false: =); returns
    // sum(dout * branch)
    double backward(float[] dskip, float[] dbranch, float[] dout, float alpha, float[] branch, float gate, int n,
            boolean add) {
        Bwd j = bwd;
        j.add = add;
        j.dskip = dskip;
        j.dbranch = dbranch;
        j.dout = dout;
        j.branch = branch;
        j.alpha = alpha;
        j.gate = gate;
        j.n = n;
        int tasks = Exec.chunks(n);
        j.partials = x.partials(tasks);
        x.run(j, tasks);
        return x.sumPartials(tasks);
    }

    private static final class Fwd extends WorkerPool.Job {
        float[] out, skip, branch;
        float alpha, gate;
        int n;

        @Override
        public void task(int t, Scratch s) {
            int i0 = t * Exec.CHUNK;
            int i1 = Math.min(n, i0 + Exec.CHUNK);
            int bound = i0 + SP.loopBound(i1 - i0);
            int i = i0;
            if (alpha == 1f && gate == 1f) {
                for (; i < bound; i += L) {
                    FloatVector.fromArray(SP, skip, i).add(FloatVector.fromArray(SP, branch, i)).intoArray(out, i);
                }
                for (; i < i1; i++) {
                    out[i] = skip[i] + branch[i];
                }
                return;
            }
            FloatVector va = FloatVector.broadcast(SP, alpha);
            FloatVector vg = FloatVector.broadcast(SP, gate);
            for (; i < bound; i += L) {
                FloatVector.fromArray(SP, branch, i).mul(vg).add(FloatVector.fromArray(SP, skip, i).mul(va))
                        .intoArray(out, i);
            }
            for (; i < i1; i++) {
                out[i] = branch[i] * gate + skip[i] * alpha;
            }
        }
    }

    private static final class Bwd extends WorkerPool.Job {
        float[] dskip, dbranch, dout, branch;
        float alpha, gate;
        boolean add;
        int n;
        double[] partials;

        @Override
        public void task(int t, Scratch s) {
            int i0 = t * Exec.CHUNK;
            int i1 = Math.min(n, i0 + Exec.CHUNK);
            float[] tmp = s.get(Scratch.LANES, L);
            FloatVector va = FloatVector.broadcast(SP, alpha);
            FloatVector vg = FloatVector.broadcast(SP, gate);
            FloatVector zero = FloatVector.zero(SP);
            FloatVector acc = zero;
            int bound = i0 + SP.loopBound(i1 - i0);
            int i = i0;
            for (; i < bound; i += L) {
                FloatVector d = FloatVector.fromArray(SP, dout, i);
                if (dskip != null) {
                    d.fma(va, add ? FloatVector.fromArray(SP, dskip, i) : zero).intoArray(dskip, i);
                }
                if (dbranch != null) {
                    d.fma(vg, add ? FloatVector.fromArray(SP, dbranch, i) : zero).intoArray(dbranch, i);
                }
                acc = d.fma(FloatVector.fromArray(SP, branch, i), acc);
            }
            acc.intoArray(tmp, 0);
            double sum = VMath.sumLanes(tmp, 0);
            for (; i < i1; i++) {
                if (dskip != null) {
                    dskip[i] = Math.fma(dout[i], alpha, add ? dskip[i] : 0f);
                }
                if (dbranch != null) {
                    dbranch[i] = Math.fma(dout[i], gate, add ? dbranch[i] : 0f);
                }
                sum += (double) dout[i] * branch[i];
            }
            partials[t] = sum;
        }
    }
}
