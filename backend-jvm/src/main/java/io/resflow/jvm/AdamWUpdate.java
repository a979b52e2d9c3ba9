package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;

/**
 * The optimizer's passes over every parameter (the jvm kernels of {@link io.resflow.reference.AdamWUpdate}): the sum
 * of squares for the global gradient norm and the AdamW update itself, over fixed chunks. Both are bound by memory
 * bandwidth (the update reads p, g, m, v and writes p, m, v: 28 bytes per parameter). No pass clears the gradients:
 * the backward's first write of each stores (see {@link io.resflow.engine.Ops}).
 */
final class AdamWUpdate extends JvmOp {
    private final Update update = new Update();
    private final SumSquares sumSquares = new SumSquares();

    AdamWUpdate(Exec x) {
        super(x);
    }

    /**
     * One AdamW step on n values, step t from 1, gradient scaled by gradScale first (clipping):
     * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + wd p).
     */
    void update(float[] p, float[] g, float[] m, float[] v, int n, float lr, float b1, float b2, float eps, float wd,
            int t, float gradScale) {
        Update j = update;
        j.p = p;
        j.g = g;
        j.m = m;
        j.v = v;
        j.n = n;
        j.lr = lr;
        j.b1 = b1;
        j.b2 = b2;
        j.eps = eps;
        j.wd = wd;
        j.gradScale = gradScale;
        j.invC1 = (float) (1.0 / (1.0 - StrictMath.pow(b1, t)));
        j.invC2 = (float) (1.0 / (1.0 - StrictMath.pow(b2, t)));
        x.run(j, Exec.chunks(n));
    }

    /** Sum of squares of g[0..n), per chunk in float blocks added in double, chunks summed in order. */
    double sumSquares(float[] g, int n) {
        SumSquares j = sumSquares;
        j.a = g;
        j.n = n;
        int tasks = Exec.chunks(n);
        j.partials = x.partials(tasks);
        x.run(j, tasks);
        return x.sumPartials(tasks);
    }

    private static final class Update extends WorkerPool.Job {
        float[] p, g, m, v;
        int n;
        float lr, b1, b2, eps, wd, gradScale, invC1, invC2;

        @Override
        public void task(int t, Scratch s) {
            int i0 = t * Exec.CHUNK;
            int i1 = Math.min(n, i0 + Exec.CHUNK);
            FloatVector vb1 = FloatVector.broadcast(SP, b1);
            FloatVector vb2 = FloatVector.broadcast(SP, b2);
            FloatVector va1 = FloatVector.broadcast(SP, 1f - b1);
            FloatVector va2 = FloatVector.broadcast(SP, 1f - b2);
            FloatVector vgs = FloatVector.broadcast(SP, gradScale);
            FloatVector vc1 = FloatVector.broadcast(SP, invC1);
            FloatVector vc2 = FloatVector.broadcast(SP, invC2);
            FloatVector veps = FloatVector.broadcast(SP, eps);
            FloatVector vwd = FloatVector.broadcast(SP, wd);
            FloatVector vlr = FloatVector.broadcast(SP, -lr);
            // unmasked vectors (masked loads and stores are slow on AVX2), then the scalar twin for the tail: the same
            // IEEE operations in the same order, so every element gets the same bits either way
            int bound = i0 + SP.loopBound(i1 - i0);
            int i = i0;
            for (; i < bound; i += L) {
                FloatVector gr = FloatVector.fromArray(SP, g, i).mul(vgs);
                FloatVector mi = FloatVector.fromArray(SP, m, i).mul(vb1).add(gr.mul(va1));
                FloatVector vi = FloatVector.fromArray(SP, v, i).mul(vb2).add(gr.mul(gr).mul(va2));
                mi.intoArray(m, i);
                vi.intoArray(v, i);
                FloatVector pi = FloatVector.fromArray(SP, p, i);
                FloatVector upd = mi.mul(vc1).div(vi.mul(vc2).sqrt().add(veps)).add(pi.mul(vwd));
                upd.fma(vlr, pi).intoArray(p, i);
            }
            for (; i < i1; i++) {
                float gr = g[i] * gradScale;
                float mi = m[i] * b1 + gr * (1f - b1);
                float vi = v[i] * b2 + gr * gr * (1f - b2);
                m[i] = mi;
                v[i] = vi;
                float upd = mi * invC1 / ((float) Math.sqrt(vi * invC2) + eps) + p[i] * wd;
                p[i] = Math.fma(upd, -lr, p[i]);
            }
        }
    }

    private static final class SumSquares extends WorkerPool.Job {
        float[] a;
        int n;
        double[] partials;

        @Override
        public void task(int t, Scratch s) {
            int i0 = t * Exec.CHUNK;
            partials[t] = sumSq(i0, Math.min(n, i0 + Exec.CHUNK), s.get(Scratch.LANES, L));
        }

        private double sumSq(int i0, int i1, float[] tmp) {
            // float accumulators over blocks of 64 vectors, each block's sum added in double
            double sum = 0;
            int i = i0;
            int bound = i0 + (i1 - i0) / (4 * L) * (4 * L);
            while (i < bound) {
                int blockEnd = Math.min(bound, i + 64 * L);
                FloatVector a0 = FloatVector.zero(SP), a1 = a0, a2 = a0, a3 = a0;
                for (; i < blockEnd; i += 4 * L) {
                    FloatVector x0 = FloatVector.fromArray(SP, a, i);
                    FloatVector x1 = FloatVector.fromArray(SP, a, i + L);
                    FloatVector x2 = FloatVector.fromArray(SP, a, i + 2 * L);
                    FloatVector x3 = FloatVector.fromArray(SP, a, i + 3 * L);
                    a0 = x0.fma(x0, a0);
                    a1 = x1.fma(x1, a1);
                    a2 = x2.fma(x2, a2);
                    a3 = x3.fma(x3, a3);
                }
                a0.add(a1).add(a2.add(a3)).intoArray(tmp, 0);
                sum += VMath.sumLanes(tmp, 0);
            }
            for (; i < i1; i++) {
                sum += (double) a[i] * a[i];
            }
            return sum;
        }
    }
}
