package io.resflow.train;

import io.resflow.data.Batch;
import io.resflow.data.DataSource;
import io.resflow.parallel.DataParallel;

import io.resflow.engine.Session;
import io.resflow.model.RuntimeFailure;
import io.resflow.model.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The training loop of a run: for each step a batch from the data source, forward, backward, global gradient-norm
 * clipping, one AdamW step at the scheduled learning rate. A non-finite loss or gradient stops it with a
 * {@link RuntimeFailure} naming the step and the first tensor affected (exit code 3); nothing of that step is
 * reported, so the last checkpoint stays the last good one.
 */
public final class Trainer {

    /**
     * One finished step.
     *
     * @param index steps finished in this invocation (1 for the first, also after a resume)
     * @param clipScale the factor the gradients were multiplied by (1 when not clipped)
     */
    /** One finished step; {@code note}: a line to show with it, or null. */
    public record Step(int step, int index, double loss, double gradNorm, double lr, double clipScale, double ms,
            double tokensPerSecond, double etaSeconds, double allreduceMs, String note) {
    }

    private final RunConfig rc;
    private final Session session;
    private final DataSource data;
    private final DataParallel dp;

    public Trainer(RunConfig rc, Session session, DataSource data) {
        this(rc, session, data, DataParallel.single());
    }

    /**
     * With {@code dp} distributed, every step's loss is the mean over the ranks, the gradients are averaged over the
     * ranks before clipping and AdamW, and the parameters are checked to be bit-identical across ranks after the
     * update. Non-finite values are then seen by every rank alike (collective failures).
     */
    public Trainer(RunConfig rc, Session session, DataSource data, DataParallel dp) {
        this.rc = rc;
        this.session = session;
        this.data = data;
        this.dp = dp;
    }

    private RuntimeException failure(String message) {
        RuntimeFailure f = new RuntimeFailure(message);
        return dp.distributed() ? new DataParallel.Collective(f) : f;
    }

    /** Runs steps {@code from+1 .. to}, calling {@code after} once each has finished. */
    public void train(int from, int to, Consumer<Step> after) {
        long tokens = (long) rc.batch() * rc.seqLen() * dp.size();
        long count = session.grads().totalSize();
        long start = System.nanoTime();
        for (int step = from + 1; step <= to; step++) {
            long t0 = System.nanoTime();
            Batch b = data.next();
            double loss = dp.meanLoss(session.forward(b.inputs(), b.targets()));
            if (!Double.isFinite(loss)) {
                throw failure("step " + step + ": loss is " + loss + "; first non-finite tensor"
                        + (dp.distributed() ? " on rank " + dp.rank() : "") + ": " + firstNonFiniteForward(session));
            }
            dp.backward(session, count);
            double norm = session.gradNorm();
            if (!Double.isFinite(norm)) {
                throw failure("step " + step + ": gradient norm is " + norm
                        + "; first non-finite gradient (backward order): " + firstNonFiniteGradient(session));
            }
            double lr = rc.schedule().at(step);
            double scale = rc.gradClip() > 0 && norm > rc.gradClip() ? rc.gradClip() / norm : 1.0;
            session.step(rc.adamw(), lr, scale);
            double reduceMs = dp.takeReduceMs();
            String note = dp.afterStep(session, step, rc.checkpointAfter(step, to), (System.nanoTime() - t0) / 1e6);
            long t1 = System.nanoTime();
            double ms = (t1 - t0) / 1e6;
            int index = step - from;
            double perStep = (t1 - start) / 1e9 / index;
            after.accept(new Step(step, index, loss, norm, lr, scale, ms, tokens / (ms / 1e3), perStep * (to - step),
                    dp.distributed() ? reduceMs : Double.NaN, note));
        }
    }

    /** Runs forward passes on {@code count} batches (task forward); non-finite losses stop it like training. */
    public void forward(int count, Consumer<Step> after, Consumer<Batch> last) {
        long tokens = (long) rc.batch() * rc.seqLen();
        long start = System.nanoTime();
        for (int i = 1; i <= count; i++) {
            long t0 = System.nanoTime();
            Batch b = data.next();
            double loss = session.forward(b.inputs(), b.targets());
            if (!Double.isFinite(loss)) {
                throw new RuntimeFailure("batch " + i + ": loss is " + loss + "; first non-finite tensor: "
                        + firstNonFiniteForward(session));
            }
            long t1 = System.nanoTime();
            double ms = (t1 - t0) / 1e6;
            double perStep = (t1 - start) / 1e9 / i;
            after.accept(new Step(i, i, loss, Double.NaN, 0, 1, ms, tokens / (ms / 1e3), perStep * (count - i),
                    Double.NaN, null));
            if (i == count) {
                last.accept(b);
            }
        }
    }

    /** The first non-finite value of the forward pass: parameters, then activations in forward order, then logits. */
    static String firstNonFiniteForward(Session s) {
        for (Tensor t : s.params().tensors()) {
            String r = firstNonFinite(t.data(), "parameter " + t.name());
            if (r != null) {
                return r;
            }
        }
        Map<String, float[]> acts = s.activations();
        for (var e : acts.entrySet()) {
            String r = firstNonFinite(e.getValue(), e.getKey());
            if (r != null) {
                return r;
            }
        }
        String r = firstNonFinite(s.logits(), "logits");
        if (r != null) {
            return r;
        }
        return acts.isEmpty() ? "none in the logits (the backend does not expose intermediates; the loss itself overflowed)"
                : "none (the loss itself overflowed)";
    }

    /** The first non-finite gradient, in backward order (the reverse of the parameter layout). */
    static String firstNonFiniteGradient(Session s) {
        List<Tensor> grads = new ArrayList<>(s.grads().tensors());
        for (int i = grads.size() - 1; i >= 0; i--) {
            Tensor t = grads.get(i);
            String r = firstNonFinite(t.data(), t.name());
            if (r != null) {
                return r;
            }
        }
        return "none (the norm overflowed)";
    }

    static String firstNonFinite(float[] a, String name) {
        if (a == null) {
            return null;
        }
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i])) {
                return name + "[" + i + "] = " + a[i];
            }
        }
        return null;
    }
}
