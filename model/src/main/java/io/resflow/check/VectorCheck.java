package io.resflow.check;

import io.resflow.engine.Backend;
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
        List<Comparison.Row> rows = new ArrayList<>();
        try (Session s = backend.open(tv.config(), tv.params(), tv.batch(), tv.seqLen(), SessionOptions.DEFAULT)) {
            double loss = s.forward(tv.inputs(), tv.targets());
            rows.add(Comparison.tensor("logits", s.logits(), tv.logits(), eps));
            rows.add(Comparison.scalar("loss", loss, tv.loss(), eps));
            s.backward();
            Map<String, io.resflow.model.Tensor> grads = HfWeights.toHf(s.grads(), tv.config(), tv.hfPrefix());
            for (var e : tv.grads().entrySet()) {
                rows.add(Comparison.tensor("grad." + e.getKey(), grads.get(e.getKey()).data(), e.getValue(), eps));
            }
            Map<String, io.resflow.model.Tensor> before = HfWeights.toHf(tv.params(), tv.config(), tv.hfPrefix());
            s.step(tv.adamw(), tv.lr(), 1.0);
            Params afterParams = s.params();
            Map<String, io.resflow.model.Tensor> after = HfWeights.toHf(afterParams, tv.config(), tv.hfPrefix());
            for (var e : tv.afterStep1().entrySet()) {
                String n = e.getKey();
                rows.add(Comparison.update("update." + n, before.get(n).data(), after.get(n).data(), e.getValue(),
                        tv.grads().get(n), eps, tv.lr()));
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
