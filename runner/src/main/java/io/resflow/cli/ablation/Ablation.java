package io.resflow.cli.ablation;

import io.resflow.engine.AdamW;
import io.resflow.engine.Backend;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import io.resflow.model.Residual;
import io.resflow.model.RuntimeFailure;
import io.resflow.model.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The residual ablation: the same deep model, data, seed and learning rate trained under each residual scheme.
 * For each scheme it records the loss per step and, at the initial weights and after the last step, the gradient
 * norm of the residual stream entering each layer and the gradient norm of each layer's parameters.
 */
public final class Ablation {

    /** What is trained: the model (its residual field is replaced per scheme), the batch, and the optimizer. */
    public record Setup(ModelConfig model, int batch, int seqLen, int steps, double lr, double weightDecay,
            int[] inputs, int[] targets, boolean recompute, Double lossThreshold) {
    }

    /**
     * @param losses loss at each step, before that step's update (index 0 = initial weights)
     * @param finalLoss loss after the last update
     * @param residInit ||dL/dh|| entering each layer, at the initial weights (length n_layer)
     * @param residFinal the same after the last update
     * @param paramInit ||dL/dtheta_l|| over each layer's parameters, at the initial weights
     * @param paramFinal the same after the last update
     * @param stepsToThreshold the first step whose loss is at or below the threshold, or null
     */
    public record SchemeResult(String scheme, List<Double> losses, double finalLoss, double[] residInit,
            double[] residFinal, double[] paramInit, double[] paramFinal, Integer stepsToThreshold) {

        /** First layer's residual-gradient norm over the last layer's, after the last update. */
        public double firstToLastFinal() {
            return residFinal[0] / residFinal[residFinal.length - 1];
        }

        public double firstToLastInit() {
            return residInit[0] / residInit[residInit.length - 1];
        }
    }

    private Ablation() {
    }

    public static SchemeResult run(Backend backend, Setup s, Residual scheme, Consumer<String> progress) {
        return run(backend, s, scheme, io.resflow.engine.Precision.FP32, scheme.id(), progress);
    }

    /** One scheme in {@code precision}; {@code label} names it in the results and charts (e.g. "pre bf16"). */
    public static SchemeResult run(Backend backend, Setup s, Residual scheme, io.resflow.engine.Precision precision,
            String label, Consumer<String> progress) {
        ModelConfig c = s.model().withResidual(scheme);
        Params init = Initializer.init(c);
        AdamW opt = AdamW.of(s.weightDecay());
        List<Double> losses = new ArrayList<>();
        double[] residInit = null;
        double[] paramInit = null;
        Integer reached = null;
        try (Session session = backend.open(c, init, s.batch(), s.seqLen(), new SessionOptions(s.recompute(), false, precision))) {
            for (int step = 0; step < s.steps(); step++) {
                double loss = session.forward(s.inputs(), s.targets());
                requireFinite(loss, scheme, step);
                losses.add(loss);
                if (reached == null && s.lossThreshold() != null && loss <= s.lossThreshold()) {
                    reached = step;
                }
                session.backward();
                if (step == 0) {
                    residInit = perLayer(session, scheme);
                    paramInit = paramNorms(session.grads(), c.nLayer());
                }
                session.step(opt, s.lr(), 1.0);
                if (progress != null) {
                    progress.accept(String.format("%-8s step %d/%d loss %.4f", label, step + 1, s.steps(), loss));
                }
            }
            double finalLoss = session.forward(s.inputs(), s.targets());
            requireFinite(finalLoss, scheme, s.steps());
            if (reached == null && s.lossThreshold() != null && finalLoss <= s.lossThreshold()) {
                reached = s.steps();
            }
            session.backward();
            double[] residFinal = perLayer(session, scheme);
            double[] paramFinal = paramNorms(session.grads(), c.nLayer());
            if (residInit == null) { // zero steps: initial and final weights are the same
                residInit = residFinal;
                paramInit = paramFinal;
            }
            return new SchemeResult(label, losses, finalLoss, residInit, residFinal, paramInit, paramFinal, reached);
        }
    }

    private static void requireFinite(double loss, Residual scheme, int step) {
        if (!Double.isFinite(loss)) {
            throw new RuntimeFailure("ablation: scheme " + scheme.id() + ", step " + step + ": loss is " + loss);
        }
    }

    /** ||dL/dh_{2l}||, the stream entering layer l, for l = 0 .. L-1. */
    private static double[] perLayer(Session s, Residual scheme) {
        double[] all = s.residualGradNorms();
        int L = s.config().nLayer();
        if (all.length != 2 * L + 1) {
            throw new RuntimeFailure("ablation: backend does not report residual-stream gradient norms (scheme "
                    + scheme.id() + "); use --backend jvm or reference");
        }
        double[] out = new double[L];
        for (int l = 0; l < L; l++) {
            out[l] = all[2 * l];
        }
        return out;
    }

    /** Gradient norm over all parameters of each layer (names h.{l}.*). */
    static double[] paramNorms(Params grads, int layers) {
        double[] sq = new double[layers];
        for (Tensor t : grads.tensors()) {
            if (!t.name().startsWith("h.")) {
                continue;
            }
            int l = Integer.parseInt(t.name().substring(2, t.name().indexOf('.', 2)));
            for (float g : t.data()) {
                sq[l] += (double) g * g;
            }
        }
        for (int l = 0; l < layers; l++) {
            sq[l] = Math.sqrt(sq[l]);
        }
        return sq;
    }
}
