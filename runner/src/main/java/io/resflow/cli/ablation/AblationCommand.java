package io.resflow.cli.ablation;

import io.resflow.cli.options.ResflowCommand;
import io.resflow.cli.options.BackendOption;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resflow.cli.options.OptionTypes;
import io.resflow.out.OutDir;
import io.resflow.cli.options.OutOptions;
import io.resflow.train.RunConfig;
import io.resflow.data.SyntheticBatch;
import io.resflow.engine.Backend;
import io.resflow.engine.Backends;
import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.model.ModelConfigs;
import io.resflow.model.Residual;
import io.resflow.safetensors.SafeTensorsWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code resflow ablation CONFIG}: the same deep model under each residual scheme, with charts. */
@Command(name = "ablation", mixinStandardHelpOptions = true,
        description = {"""
                Trains the run config's model under each residual scheme (same data, seed and learning rate) and \
                writes the loss curves, the gradient norm of the residual stream entering each layer and of each \
                layer's parameters (at the initial weights and after the last step), ablation.json and summary.md."""})
public final class AblationCommand extends ResflowCommand {
    @Parameters(paramLabel = "CONFIG", description = "Run config of the (deep) model, e.g. configs/ablation-64.json.")
    Path config;

    @Option(names = "--schemes", split = ",", defaultValue = "pre,post,deepnorm,rezero,none",
            description = "Residual schemes to compare (default: ${DEFAULT-VALUE}).")
    List<String> schemes;

    @Option(names = "--steps", paramLabel = "N", converter = OptionTypes.PositiveInt.class,
            description = "Training steps per scheme, 1 or more (default: the run config's steps).")
    Integer steps;

    @Option(names = "--threshold", paramLabel = "LOSS", converter = OptionTypes.PositiveNumber.class,
            description = "Loss threshold for the 'steps to reach' column (a positive number).")
    Double threshold;

    @Mixin
    BackendOption.OverConfig backend;

    @Option(names = "--dtype", split = ",", paramLabel = "DTYPE",
            description = "fp32, bf16, or both (fp32,bf16: every scheme in each, side by side in the charts) "
                    + "(default: the run config's \"dtype\", else fp32).")
    List<String> dtypes;

    @Mixin
    OutOptions.Folder output;

    /** What ablation writes into its folder. */
    static final OutDir.Outputs OUTPUTS = new OutDir.Outputs("ablation", "ablation.json", "summary.md", "loss.png",
            "residual-grad-init.png", "residual-grad-final.png", "param-grad-init.png", "param-grad-final.png");

    @Override
    protected int run(PrintWriter pw) {
        RunConfig rc = RunConfig.load(config);
        output.precheck(OUTPUTS);
        List<Residual> list = new ArrayList<>();
        for (String s : schemes) {
            try {
                list.add(Residual.valueOf(s.trim().toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new BadInputException("--schemes: unknown residual scheme '" + s + "' (pre, post, deepnorm, rezero, none)");
            }
        }
        Backend b = Backends.resolve(backend.or(rc.backend()));
        List<io.resflow.engine.Precision> precisions = new ArrayList<>();
        if (dtypes == null) {
            precisions.add(rc.dtype());
        } else {
            for (String d : dtypes) {
                io.resflow.engine.Precision p = io.resflow.engine.Precision.parse(d, "--dtype");
                if (!precisions.contains(p)) {
                    precisions.add(p);
                }
            }
        }
        precisions.forEach(b::requirePrecision);
        this.precisions = precisions;
        int n = steps != null ? steps : rc.steps();
        if (n < 1) {
            throw new BadInputException(config + ": field 'steps' must be at least 1 for an ablation (or give --steps), got " + n);
        }
        ModelConfig model = rc.model().config();
        SyntheticBatch data = SyntheticBatch.of(rc.seed(), rc.batch(), rc.seqLen(), model.vocabSize());
        Ablation.Setup setup = new Ablation.Setup(model, rc.batch(), rc.seqLen(), n, rc.lr(), rc.weightDecay(),
                data.inputs(), data.targets(), rc.recompute(), threshold);
        try (OutDir od = output.claim(rc.name(), OUTPUTS, pw)) {
            return run(pw, rc, list, b, n, model, setup, od.path());
        }
    }

    private List<io.resflow.engine.Precision> precisions;

    private int run(PrintWriter pw, RunConfig rc, List<Residual> list, Backend b, int n, ModelConfig model,
            Ablation.Setup setup, Path dir) {
        pw.printf("ablation of %s: %d layers, d_model %d, %d steps, lr %g, batch %d x %d, backend %s, dtype %s%n",
                rc.name(), model.nLayer(), model.dModel(), n, rc.lr(), rc.batch(), rc.seqLen(), b.id(),
                precisions.stream().map(io.resflow.engine.Precision::id).collect(java.util.stream.Collectors.joining(",")));
        List<Ablation.SchemeResult> results = new ArrayList<>();
        // one dtype: schemes are named as they are; several: "pre fp32", "pre bf16", ...
        boolean named = precisions.size() > 1 || precisions.get(0) != io.resflow.engine.Precision.FP32;
        for (Residual r : list) {
            for (io.resflow.engine.Precision p : precisions) {
                long t0 = System.nanoTime();
                String label = named ? r.id() + " " + p.id() : r.id();
                Ablation.SchemeResult res = Ablation.run(b, setup, r, p, label, null);
                results.add(res);
                pw.printf("  %-8s final loss %.4f, residual-gradient ratio first/last layer %.3e (at init %.3e), %.1f s%n",
                        label, res.finalLoss(), res.firstToLastFinal(), res.firstToLastInit(),
                        (System.nanoTime() - t0) / 1e9);
            }
        }
        write(dir, rc, model, n, b, results);
        pw.println(summary(results, threshold));
        pw.println("wrote " + dir.toAbsolutePath());
        return 0;
    }

    private void write(Path dir, RunConfig rc, ModelConfig model, int n, Backend b, List<Ablation.SchemeResult> results) {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = json.createObjectNode();
        root.put("config", rc.file().toString());
        root.set("model", ModelConfigs.toJson(model));
        root.put("backend", b.id());
        ArrayNode dt = root.putArray("dtypes");
        precisions.forEach(p -> dt.add(p.id()));
        root.put("steps", n);
        root.put("lr", rc.lr());
        root.put("batch", rc.batch());
        root.put("seq_len", rc.seqLen());
        root.put("seed", rc.seed());
        if (threshold != null) {
            root.put("loss_threshold", threshold);
        }
        ArrayNode arr = root.putArray("schemes");
        for (Ablation.SchemeResult r : results) {
            ObjectNode o = arr.addObject();
            o.put("scheme", r.scheme());
            o.put("final_loss", r.finalLoss());
            o.put("first_to_last_residual_grad_ratio", r.firstToLastFinal());
            o.put("first_to_last_residual_grad_ratio_init", r.firstToLastInit());
            if (r.stepsToThreshold() != null) {
                o.put("steps_to_threshold", r.stepsToThreshold());
            } else {
                o.putNull("steps_to_threshold");
            }
            ArrayNode losses = o.putArray("losses");
            r.losses().forEach(losses::add);
            put(o.putArray("residual_grad_norm_init"), r.residInit());
            put(o.putArray("residual_grad_norm_final"), r.residFinal());
            put(o.putArray("param_grad_norm_init"), r.paramInit());
            put(o.putArray("param_grad_norm_final"), r.paramFinal());
        }
        try {
            SafeTensorsWriter.writeAtomically(dir.resolve("ablation.json"), json.writeValueAsBytes(root));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e); // a tree of numbers and strings always serialises
        }
        SafeTensorsWriter.writeAtomically(dir.resolve("summary.md"), summary(results, threshold).getBytes(StandardCharsets.UTF_8));
        String what = model.nLayer() + " layers, " + n + " steps";
        AblationCharts.losses(dir.resolve("loss.png"), results, "Training loss by residual scheme (" + what + ")");
        AblationCharts.perLayer(dir.resolve("residual-grad-init.png"), results, true, true,
                "Residual-stream gradient norm entering each layer, initial weights", "||dL/dh||");
        AblationCharts.perLayer(dir.resolve("residual-grad-final.png"), results, false, true,
                "Residual-stream gradient norm entering each layer, after " + n + " steps", "||dL/dh||");
        AblationCharts.perLayer(dir.resolve("param-grad-init.png"), results, true, false,
                "Parameter gradient norm per layer, initial weights", "||dL/dtheta_l||");
        AblationCharts.perLayer(dir.resolve("param-grad-final.png"), results, false, false,
                "Parameter gradient norm per layer, after " + n + " steps", "||dL/dtheta_l||");
    }

    private static void put(ArrayNode a, double[] v) {
        for (double d : v) {
            a.add(d);
        }
    }

    static String summary(List<Ablation.SchemeResult> results, Double threshold) {
        StringBuilder sb = new StringBuilder();
        sb.append("| scheme | final loss | residual-grad first/last (after) | first/last (init) | steps to loss <= ")
                .append(threshold == null ? "-" : String.format("%.3g", threshold)).append(" |\n");
        sb.append("| --- | ---: | ---: | ---: | ---: |\n");
        for (Ablation.SchemeResult r : results) {
            sb.append(String.format("| %s | %.4f | %.3e | %.3e | %s |%n", r.scheme(), r.finalLoss(), r.firstToLastFinal(),
                    r.firstToLastInit(), r.stepsToThreshold() == null ? "not reached" : r.stepsToThreshold().toString()));
        }
        return sb.toString();
    }
}
