package io.resflow.tornado;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.engine.AdamW;
import io.resflow.engine.Engine;
import io.resflow.engine.SessionOptions;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import io.resflow.reference.ReferenceOps;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Runs a TornadoSession and the reference Engine side by side on the same seeded weights and tokens and compares
 * every output: loss and logits of the first forward, every gradient, gradient norm, and the parameters, moments,
 * loss and logits after two AdamW steps. Rule: rel_l2 = ||x-r|| / ||r|| <= 1e-3 and max_rel = max|x-r| / max|r|
 * <= 1e-2 (scalars: relative error <= 1e-3).
 */
final class ReferenceComparison {
    static final double REL_L2 = 1e-3;
    static final double MAX_REL = 1e-2;

    private final List<String> failures = new ArrayList<>();
    private final StringBuilder table = new StringBuilder();
    private int rows;

    static int[] tokens(int n, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            // a small pool makes repeated tokens likely, which exercises the scatter-add of the embedding gradient
            t[i] = i % 3 == 0 ? r.nextInt(Math.min(vocab, 4)) : r.nextInt(vocab);
        }
        return t;
    }

    /** Runs both and returns the report; fails the test with the table when any row fails. */
    static ReferenceComparison run(TornadoBackend backend, ModelConfig c, int B, int T) {
        ReferenceComparison cmp = new ReferenceComparison();
        Params init = Initializer.init(c);
        int[] x = tokens(B * T, c.vocabSize(), c.initSeed() + 1);
        int[] y = tokens(B * T, c.vocabSize(), c.initSeed() + 2);
        AdamW opt = new AdamW(0.9, 0.95, 1e-8, 0.1);
        double lr = 1e-3;
        try (TornadoSession s = backend.open(c, init, B, T, SessionOptions.DEFAULT);
                Engine ref = new Engine(c, init, B, T, SessionOptions.DEFAULT, new ReferenceOps())) {
            cmp.scalar("loss", s.forward(x, y), ref.forward(x, y));
            cmp.tensor("logits", s.logits(), ref.logits());
            s.backward();
            ref.backward();
            cmp.params("grad.", s.grads(), ref.grads());
            cmp.scalar("grad_norm", s.gradNorm(), ref.gradNorm());
            s.step(opt, lr, 1.0);
            ref.step(opt, lr, 1.0);
            cmp.scalar("loss_after_step1", s.forward(x, y), ref.forward(x, y));
            s.backward();
            ref.backward();
            s.step(opt, lr, 0.5);
            ref.step(opt, lr, 0.5);
            cmp.params("param.", s.params(), ref.params());
            var so = s.optimizerState();
            var ro = ref.optimizerState();
            cmp.params("m.", so.m(), ro.m());
            cmp.params("v.", so.v(), ro.v());
            cmp.scalar("loss_after_step2", s.forward(x, y), ref.forward(x, y));
            cmp.tensor("logits_after_step2", s.logits(), ref.logits());
            long[] bytes = s.lastStepBytes();
            cmp.table.append(String.format("bytes per step: %d in, %d out%n", bytes[0], bytes[1]));
            // forward-only (inference) path
            s.forward(x, null);
            ref.forward(x, null);
            cmp.tensor("logits_inference", s.logits(), ref.logits());
            var acts = s.activations();
            ref.activations().forEach((k, v) -> cmp.tensor("act." + k, acts.get(k), v));
        }
        return cmp;
    }

    void assertPassed(String title) {
        System.out.println("== " + title + " (" + rows + " rows)\n" + table);
        assertTrue(failures.isEmpty(), title + ": " + failures.size() + " of " + rows + " rows failed: " + failures
                + "\n" + table);
    }

    void scalar(String name, double x, double r) {
        double rel = Math.abs(x - r) / Math.max(Math.abs(r), 1e-30);
        boolean ok = rel <= REL_L2 && Double.isFinite(x);
        row(name, rel, rel, ok);
    }

    void params(String prefix, Params x, Params r) {
        for (var t : r.tensors()) {
            tensor(prefix + t.name(), x.data(t.name()), t.data());
        }
    }

    void tensor(String name, float[] x, float[] r) {
        if (x == null || x.length != r.length) {
            row(name, Double.NaN, Double.NaN, false);
            return;
        }
        double diff2 = 0, ref2 = 0, maxDiff = 0, maxRef = 0;
        for (int i = 0; i < r.length; i++) {
            double dd = (double) x[i] - r[i];
            diff2 += dd * dd;
            ref2 += (double) r[i] * r[i];
            maxDiff = Math.max(maxDiff, Math.abs(dd));
            maxRef = Math.max(maxRef, Math.abs(r[i]));
            if (!Float.isFinite(x[i])) {
                maxDiff = Double.POSITIVE_INFINITY;
            }
        }
        if (maxRef == 0) {
            row(name, maxDiff, maxDiff, maxDiff <= 1e-7);
            return;
        }
        double rel = Math.sqrt(diff2 / ref2);
        double maxRel = maxDiff / maxRef;
        row(name, rel, maxRel, rel <= REL_L2 && maxRel <= MAX_REL);
    }

    private void row(String name, double rel, double maxRel, boolean ok) {
        rows++;
        if (!ok) {
            failures.add(name);
        }
        if (!ok || rows <= 400) {
            table.append(String.format("%-36s %10.3e %10.3e %s%n", name, rel, maxRel, ok ? "OK" : "FAIL"));
        }
    }
}
