package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Softmax cross-entropy over the vocabulary (the jvm kernels of {@link io.resflow.reference.CrossEntropy}),
 * row-parallel and fused: per row the max, then exp and sum in one pass (the row stays in L2), then the scaling to
 * probabilities; loss = log(sum) + max - logit[target]. The mean loss is summed over rows in order.
 */
final class CrossEntropy extends JvmOp {
    private final Job job = new Job();

    CrossEntropy(Exec x) {
        super(x);
    }

    // logits (N,V), targets (N) -> probs (N,V) = softmax(logits), losses (N); returns the mean loss
    double forward(float[] losses, float[] probs, float[] logits, int[] targets, int N, int V) {
        Job j = job;
        j.backward = false;
        j.losses = losses;
        j.probs = probs;
        j.logits = logits;
        j.targets = targets;
        j.N = N;
        j.V = V;
        j.tasks = x.rowTasks(N, V);
        x.run(j, j.tasks);
        double total = 0;
        for (int n = 0; n < N; n++) {
            total += losses[n];
        }
        return total / N;
    }

    // dlogits (N,V) += (probs - onehot(targets)) / N   (the gradient of the mean loss; add false: =)
    void backward(float[] dlogits, float[] probs, int[] targets, int N, int V, boolean add) {
        Job j = job;
        j.backward = true;
        j.add = add;
        j.dlogits = dlogits;
        j.probs = probs;
        j.targets = targets;
        j.N = N;
        j.V = V;
        j.tasks = x.rowTasks(N, V);
        x.run(j, j.tasks);
    }

    /** Fused softmax + loss per row (max, exp and sum in one pass over the row's exps, then one scaling pass). */
    private static final class Job extends WorkerPool.Job {
        boolean backward, add;
        float[] losses, probs, logits, dlogits;
        int[] targets;
        int N, V, tasks;

        @Override
        public void task(int i, Scratch s) {
            int r0 = (int) ((long) N * i / tasks);
            int r1 = (int) ((long) N * (i + 1) / tasks);
            float[] tmp = s.get(Scratch.LANES, L);
            for (int r = r0; r < r1; r++) {
                if (backward) {
                    backwardRow(r);
                } else {
                    forwardRow(r, tmp);
                }
            }
        }

        private void forwardRow(int r, float[] tmp) {
            int o = r * V;
            int bound = SP.loopBound(V);
            FloatVector mx = FloatVector.broadcast(SP, Float.NEGATIVE_INFINITY);
            int v = 0;
            for (; v < bound; v += L) {
                mx = FloatVector.fromArray(SP, logits, o + v).max(mx);
            }
            float max = mx.reduceLanes(VectorOperators.MAX);
            for (; v < V; v++) {
                max = Math.max(max, logits[o + v]);
            }
            FloatVector vmax = FloatVector.broadcast(SP, max);
            FloatVector sum = FloatVector.zero(SP);
            v = 0;
            for (; v < bound; v += L) {
                FloatVector e = VMath.exp(FloatVector.fromArray(SP, logits, o + v).sub(vmax));
                sum = e.add(sum);
                e.intoArray(probs, o + v);
            }
            sum.intoArray(tmp, 0);
            float total = VMath.sumLanes(tmp, 0);
            for (; v < V; v++) {
                float e = VMath.exp(logits[o + v] - max);
                total += e;
                probs[o + v] = e;
            }
            float inv = 1f / total;
            FloatVector vinv = FloatVector.broadcast(SP, inv);
            v = 0;
            for (; v < bound; v += L) {
                FloatVector.fromArray(SP, probs, o + v).mul(vinv).intoArray(probs, o + v);
            }
            for (; v < V; v++) {
                probs[o + v] *= inv;
            }
            losses[r] = (float) (StrictMath.log(total) + max - logits[o + targets[r]]);
        }

        private void backwardRow(int r) {
            int o = r * V;
            float inv = 1f / N;
            FloatVector vinv = FloatVector.broadcast(SP, inv);
            int bound = SP.loopBound(V);
            int v = 0;
            for (; v < bound; v += L) {
                FloatVector prior = add ? FloatVector.fromArray(SP, dlogits, o + v) : FloatVector.zero(SP);
                FloatVector.fromArray(SP, probs, o + v).fma(vinv, prior).intoArray(dlogits, o + v);
            }
            for (; v < V; v++) {
                dlogits[o + v] = Math.fma(probs[o + v], inv, add ? dlogits[o + v] : 0f);
            }
            dlogits[o + targets[r]] -= inv;
        }
    }
}
