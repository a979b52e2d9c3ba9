package io.resflow.cli;

import io.resflow.engine.AdamW;
import io.resflow.engine.Backend;
import io.resflow.engine.Backends;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import io.resflow.model.RuntimeFailure;
import io.resflow.model.Tensor;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code resflow run CONFIG}: train a model for some AdamW steps and print the loss per step. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Trains the run config's model for 'steps' AdamW steps on a seeded synthetic batch and prints the loss per step.")
final class RunCommand implements Callable<Integer> {
    @Parameters(paramLabel = "CONFIG", description = "Run config (JSON), e.g. configs/gpt2-tiny.json.")
    Path config;

    @Option(names = {"-b", "--backend"}, description = "Overrides the config's backend.")
    String backend;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        RunConfig rc = RunConfig.load(config);
        Backend b = Backends.resolve(backend != null ? backend : rc.backend());
        var c = rc.model().config();
        out.printf("model %s: %s, %d layers, d_model %d, %d heads (%d kv), vocab %d, residual %s, %,d parameters; weights: %s%n",
                rc.model().name(), c.family().name().toLowerCase(), c.nLayer(), c.dModel(), c.nHead(), c.nKvHead(),
                c.vocabSize(), c.residual().id(), c.parameterCount(), rc.model().weightsFrom());
        out.printf("backend %s (%s); batch %d x seq_len %d, %d steps, lr %g, weight_decay %g, seed %d%n", b.id(),
                b.description(), rc.batch(), rc.seqLen(), rc.steps(), rc.lr(), rc.weightDecay(), rc.seed());
        SyntheticBatch data = SyntheticBatch.of(rc.seed(), rc.batch(), rc.seqLen(), c.vocabSize());
        AdamW opt = AdamW.of(rc.weightDecay());
        try (Session s = b.open(c, rc.model().params(), rc.batch(), rc.seqLen(), new SessionOptions(rc.recompute()))) {
            for (int step = 1; step <= rc.steps(); step++) {
                long t0 = System.nanoTime();
                double loss = s.forward(data.inputs(), data.targets());
                if (!Double.isFinite(loss)) {
                    throw new RuntimeFailure("step " + step + ": loss is " + loss + " (first non-finite tensor: "
                            + firstNonFinite(s.logits(), "logits") + ")");
                }
                s.backward();
                double norm = s.gradNorm();
                if (!Double.isFinite(norm)) {
                    throw new RuntimeFailure("step " + step + ": gradient norm is " + norm + "; first non-finite gradient: "
                            + firstNonFinite(s) );
                }
                s.step(opt, rc.lr(), 1.0);
                double ms = (System.nanoTime() - t0) / 1e6;
                out.printf("step %d/%d  loss %.6f  grad_norm %.4f  %.0f ms%n", step, rc.steps(), loss, norm, ms);
            }
        }
        return Main.OK;
    }

    static String firstNonFinite(float[] a, String name) {
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i])) {
                return name + "[" + i + "] = " + a[i];
            }
        }
        return "none";
    }

    static String firstNonFinite(Session s) {
        for (Tensor t : s.grads().tensors()) {
            String r = firstNonFinite(t.data(), t.name());
            if (!r.equals("none")) {
                return r;
            }
        }
        return "none";
    }
}
