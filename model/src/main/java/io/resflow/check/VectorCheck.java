package io.resflow.check;

import io.resflow.engine.Backend;
import io.resflow.engine.Precision;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import io.resflow.model.HfWeights;
import io.resflow.model.Params;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs a backend on a test-vector folder and compares, with the rule of {@link Comparison}: logits, loss, every
 * parameter gradient, the update of every parameter after one AdamW step, and the losses after each further step.
 */
public final class VectorCheck {
    private VectorCheck() {
    }

    public static CheckReport run(Path dir, Backend backend, double eps) {
        return run(TestVectors.load(dir), backend, eps);
    }

    public static CheckReport run(TestVectors tv, Backend backend, double eps) {
        return run(tv, backend, eps, Precision.FP32);
    }

    /** The same comparisons with the backend computing in {@code precision} (the oracle stays what the folder has). */
    public static CheckReport run(TestVectors tv, Backend backend, double eps, Precision precision) {
        return run(tv, backend, eps, eps, precision);
    }

    /**
     * The folder's model, inputs and settings with the oracle values replaced by what {@code oracle} computes in
     * {@code precision} by the same protocol (logits, loss, gradients, parameters after one step, the later losses):
     * so a backend in bf16 can be held to the bf16 reference at the float32 budgets.
     */
    public static TestVectors recompute(TestVectors tv, Backend oracle, Precision precision) {
        try (Session s = oracle.open(tv.config(), tv.params(), tv.batch(), tv.seqLen(),
                SessionOptions.DEFAULT.withPrecision(precision))) {
            double loss = s.forward(tv.inputs(), tv.targets());
            float[] logits = s.logits().clone();
            s.backward();
            Map<String, float[]> grads = new java.util.LinkedHashMap<>();
            HfWeights.toHf(s.grads(), tv.config(), tv.hfPrefix()).forEach((n, t) -> {
                if (tv.grads().containsKey(n)) {
                    grads.put(n, t.data().clone());
                }
            });
            s.step(tv.adamw(), tv.lr(), 1.0);
            Map<String, float[]> after = new java.util.LinkedHashMap<>();
            HfWeights.toHf(s.params(), tv.config(), tv.hfPrefix()).forEach((n, t) -> {
                if (tv.afterStep1().containsKey(n)) {
                    after.put(n, t.data().clone());
                }
            });
            double[] losses = new double[tv.lossesAfterSteps().length];
            for (int i = 0; i < losses.length; i++) {
                losses[i] = s.forward(tv.inputs(), tv.targets());
                if (i + 1 < losses.length) {
                    s.backward();
                    s.step(tv.adamw(), tv.lr(), 1.0);
                }
            }
            return new TestVectors(tv.dir(), tv.config(), tv.params(), tv.hfPrefix(), tv.batch(), tv.seqLen(),
                    tv.inputs(), tv.targets(), logits, loss, grads, after, losses, tv.lr(), tv.adamw());
        }
    }

    /** The backend in bf16 against the folder's fp32 values, within the config's {@link Bf16Budget}. */
    public static CheckReport runBf16(TestVectors tv, Backend backend) {
        Bf16Budget b = Bf16Budget.of(tv.config());
        return run(tv, backend, b.forwardEps(), b.backwardEps(), Precision.BF16);
    }

    /**
     * @param eps the rule's eps for what the forward computes (logits, loss, the losses after each step)
     * @param gradEps for the gradients and the updates made from them
     */
    public static CheckReport run(TestVectors tv, Backend backend, double eps, double gradEps, Precision precision) {
        List<Comparison.Row> rows = new ArrayList<>();
        try (Session s = backend.open(tv.config(), tv.params(), tv.batch(), tv.seqLen(),
                SessionOptions.DEFAULT.withPrecision(precision))) {
            double loss = s.forward(tv.inputs(), tv.targets());
            rows.add(Comparison.tensor("logits", s.logits(), tv.logits(), eps));
            rows.add(Comparison.scalar("loss", loss, tv.loss(), eps));
            s.backward();
            Map<String, io.resflow.model.Tensor> grads = HfWeights.toHf(s.grads(), tv.config(), tv.hfPrefix());
            for (var e : tv.grads().entrySet()) {
                rows.add(Comparison.tensor("grad." + e.getKey(), grads.get(e.getKey()).data(), e.getValue(), gradEps));
            }
            Map<String, io.resflow.model.Tensor> before = HfWeights.toHf(tv.params(), tv.config(), tv.hfPrefix());
            s.step(tv.adamw(), tv.lr(), 1.0);
            Params afterParams = s.params();
            Map<String, io.resflow.model.Tensor> after = HfWeights.toHf(afterParams, tv.config(), tv.hfPrefix());
            for (var e : tv.afterStep1().entrySet()) {
                String n = e.getKey();
                rows.add(Comparison.update("update." + n, before.get(n).data(), after.get(n).data(), e.getValue(),
                        tv.grads().get(n), gradEps, tv.lr()));
            }
            double[] ref = tv.lossesAfterSteps();
            for (int i = 0; i < ref.length; i++) {
                double li = s.forward(tv.inputs(), tv.targets());
                rows.add(Comparison.scalar("loss_after_step" + (i + 1), li, ref[i], 10 * eps));
                if (i + 1 < ref.length) {
                    s.backward();
                    s.step(tv.adamw(), tv.lr(), 1.0);
                }
            }
        }
        return new CheckReport(tv.dir().getFileName() + " on " + backend.id(), rows);
    }
}
