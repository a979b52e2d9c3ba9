package io.resflow.validate;

import io.resflow.data.Batch;
import io.resflow.train.RunConfig;

import io.resflow.check.Comparison;
import io.resflow.engine.Backend;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import io.resflow.model.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One model and batch on the reference and on another backend, compared tensor by tensor with the rule of
 * {@link Comparison}: every intermediate the backend exposes (per layer: norm outputs, attention output, residual
 * stream, MLP output; final norm), logits, loss, every gradient, the gradient norm, every parameter update of one AdamW
 * step, and the loss after that step. Both run in the run config's dtype ({@link RunConfig#dtype}): a bf16 backend is
 * compared with the bf16 reference.
 */
public final class Validation {
    private static final Pattern LAYER = Pattern.compile("^h\\.(\\d+)\\.");

    public enum Section { FORWARD, LOSS, GRADIENT, UPDATE }

    /** One compared tensor. {@code layer} is -1 for tensors outside the blocks (embedding, final norm, head). */
    public record Row(Section section, int layer, Comparison.Row cmp) {
        public String tensor() {
            return cmp.tensor();
        }

        public String where() {
            return layer >= 0 ? "layer " + layer + ", " + tensor() : tensor();
        }
    }

    /**
     * @param notExposed reference intermediates the backend did not expose (compared: logits and everything after)
     * @param firstDivergence the first failing row in computation order: forward in layer order, loss, gradients in
     *     backward order, updates; null when all pass
     */
    public record Result(List<Row> rows, List<String> notExposed, Row firstDivergence, double referenceLoss, double loss,
            double lr) {
        public boolean passed() {
            return firstDivergence == null && !rows.isEmpty();
        }

        public long failures() {
            return rows.stream().filter(r -> !r.cmp().ok()).count();
        }
    }

    private Validation() {
    }

    static int layerOf(String name) {
        String n = name.startsWith("grad.") ? name.substring(5) : name.startsWith("update.") ? name.substring(7) : name;
        Matcher m = LAYER.matcher(n);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** What one backend computed: intermediates, logits, loss, gradients, parameters after one step, loss after. */
    private record Outcome(Map<String, float[]> activations, float[] logits, double loss, Params grads, double gradNorm,
            Params after, double lossAfter) {
    }

    /**
     * Runs the reference first and keeps copies of what it computed, then the backend, so that only one session
     * (parameters, gradients, moments) is in memory at a time.
     */
    public static Result run(RunConfig rc, ModelConfig c, Params init, int batch, int seqLen, Batch data, Backend reference,
            Backend backend, double eps) {
        return run(rc, c, init, batch, seqLen, data, reference, backend, eps, eps);
    }

    /** As above with {@code gradEps} for the gradients, their norm and the updates. */
    public static Result run(RunConfig rc, ModelConfig c, Params init, int batch, int seqLen, Batch data, Backend reference,
            Backend backend, double eps, double gradEps) {
        double lr = rc.schedule().at(1);
        Outcome ref = compute(reference, rc, c, init, batch, seqLen, data, lr);
        Outcome got = compute(backend, rc, c, init, batch, seqLen, data, lr);
        List<Row> rows = new ArrayList<>();
        List<String> notExposed = new ArrayList<>();
        for (var e : ref.activations().entrySet()) {
            if (e.getKey().equals("logits")) {
                continue;
            }
            float[] x = got.activations().get(e.getKey());
            if (x == null) {
                notExposed.add(e.getKey());
            } else {
                rows.add(new Row(Section.FORWARD, layerOf(e.getKey()), Comparison.tensor(e.getKey(), x, e.getValue(), eps)));
            }
        }
        rows.add(new Row(Section.FORWARD, -1, Comparison.tensor("logits", got.logits(), ref.logits(), eps)));
        rows.add(new Row(Section.LOSS, -1, Comparison.scalar("loss", got.loss(), ref.loss(), eps)));
        List<Row> gradRows = new ArrayList<>();
        for (Tensor g : ref.grads().tensors()) {
            gradRows.add(new Row(Section.GRADIENT, layerOf(g.name()),
                    Comparison.tensor("grad." + g.name(), got.grads().data(g.name()), g.data(), gradEps)));
        }
        rows.addAll(gradRows.reversed()); // backward order: the head first, the embedding last
        rows.add(new Row(Section.GRADIENT, -1, Comparison.scalar("grad_norm", got.gradNorm(), ref.gradNorm(), gradEps)));
        for (Tensor p : init.tensors()) {
            String n = p.name();
            rows.add(new Row(Section.UPDATE, layerOf(n), Comparison.update("update." + n, p.data(), got.after().data(n),
                    ref.after().data(n), ref.grads().data(n), gradEps, lr)));
        }
        rows.add(new Row(Section.LOSS, -1, Comparison.scalar("loss_after_step1", got.lossAfter(), ref.lossAfter(), 10 * eps)));
        Row first = rows.stream().filter(r -> !r.cmp().ok()).findFirst().orElse(null);
        return new Result(rows, notExposed, first, ref.loss(), got.loss(), lr);
    }

    private static Outcome compute(Backend b, RunConfig rc, ModelConfig c, Params init, int batch, int seqLen, Batch data,
            double lr) {
        // intermediates are only kept without recompute
        try (Session s = b.open(c, init, batch, seqLen, new SessionOptions(false, false, rc.dtype()))) {
            double loss = s.forward(data.inputs(), data.targets());
            Map<String, float[]> acts = copy(s.activations());
            float[] logits = s.logits().clone();
            s.backward();
            Params grads = s.grads().copy();
            double norm = s.gradNorm();
            s.step(rc.adamw(), lr, clip(rc, norm));
            Params after = s.params().copy();
            double lossAfter = s.forward(data.inputs(), data.targets());
            return new Outcome(acts, logits, loss, grads, norm, after, lossAfter);
        }
    }

    private static double clip(RunConfig rc, double norm) {
        return rc.gradClip() > 0 && norm > rc.gradClip() ? rc.gradClip() / norm : 1.0;
    }

    private static Map<String, float[]> copy(Map<String, float[]> m) {
        Map<String, float[]> c = new LinkedHashMap<>();
        m.forEach((k, v) -> c.put(k, v.clone()));
        return c;
    }
}
