package io.resflow.check;

import io.resflow.engine.Engine;
import io.resflow.engine.SessionOptions;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import io.resflow.model.Tensor;
import io.resflow.reference.ReferenceOps;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Finite-difference check of the whole reference model: for every parameter tensor, the analytic gradient of the
 * mean cross-entropy on a seeded batch against central differences of the loss on a sample of its entries.
 */
public final class ModelGradCheck {
    private ModelGradCheck() {
    }

    public record Options(int batch, int seqLen, int samplesPerTensor, double relStep, double tolerance, long seed) {
        public static Options defaults(ModelConfig c) {
            return new Options(2, Math.min(6, c.maxSeqLen()), 6, 1e-2, 1e-2, 7);
        }
    }

    public static List<FiniteDifference.Result> run(ModelConfig c, Params init, Options o) {
        SplittableRandom r = new SplittableRandom(o.seed());
        int n = o.batch() * o.seqLen();
        int[] in = new int[n];
        int[] tg = new int[n];
        for (int i = 0; i < n; i++) {
            in[i] = r.nextInt(c.vocabSize());
            tg[i] = r.nextInt(c.vocabSize());
        }
        Engine e = new Engine(c, init, o.batch(), o.seqLen(), SessionOptions.DEFAULT, new ReferenceOps());
        e.forward(in, tg);
        e.backward();
        Params grads = e.grads().copy();
        List<FiniteDifference.Result> results = new ArrayList<>();
        for (Tensor p : e.params().tensors()) {
            float[] g = grads.data(p.name());
            int[] idx = pickLargest(g, o.samplesPerTensor(), r);
            results.add(FiniteDifference.compare(p.name(), p.data(), g, idx, o.relStep(), () -> e.forward(in, tg)));
        }
        return results;
    }

    /** Half the sample from the entries with the largest gradients (where the check is most sensitive), half random. */
    private static int[] pickLargest(float[] g, int k, SplittableRandom r) {
        k = Math.min(k, g.length);
        int[] idx = new int[k];
        boolean[] used = new boolean[g.length];
        int big = (k + 1) / 2;
        for (int j = 0; j < big; j++) {
            int best = -1;
            for (int i = 0; i < g.length; i++) {
                if (!used[i] && (best < 0 || Math.abs(g[i]) > Math.abs(g[best]))) {
                    best = i;
                }
            }
            used[best] = true;
            idx[j] = best;
        }
        for (int j = big; j < k; j++) {
            int i;
            do {
                i = r.nextInt(g.length);
            } while (used[i]);
            used[i] = true;
            idx[j] = i;
        }
        return idx;
    }
}
