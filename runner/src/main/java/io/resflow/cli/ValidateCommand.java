package io.resflow.cli;

import io.resflow.cli.options.ResflowCommand;
import io.resflow.cli.options.BackendOption;
import io.resflow.cli.options.OptionTypes;
import io.resflow.cli.options.OutOptions;
import io.resflow.data.Batch;
import io.resflow.out.Json;
import io.resflow.out.OutDir;
import io.resflow.train.RunConfig;
import io.resflow.validate.Validation;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resflow.engine.Backend;
import io.resflow.engine.Backends;
import io.resflow.model.ModelConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code resflow validate CONFIG --backend B}: B against the reference, tensor by tensor. */
@Command(name = "validate", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Compare a backend with the reference, tensor by tensor.",
        description = {"""
                Runs the run config's model and first batch on the reference and on the given backend and compares \
                every intermediate tensor (per layer: norm outputs, attention output, residual stream, MLP output; \
                final norm, logits), the loss, every gradient, the parameter updates of one AdamW step and the \
                loss after it, with the comparison rule of testvectors/README.md. Names the first layer and tensor \
                where they diverge and writes validate.json.""", """
                Exit 0 all within tolerance, 1 a tensor diverged, 2 bad input, 3 runtime failure."""})
final class ValidateCommand extends ResflowCommand {
    @Parameters(paramLabel = "CONFIG", description = "Run config (JSON): model, batch, seq_len, data, lr, weight decay.")
    Path config;

    @Mixin
    BackendOption.Required backend;

    @Mixin
    io.resflow.cli.options.DtypeOption dtype;

    @Option(names = "--eps", converter = OptionTypes.Tolerance.class,
            description = "Tolerance eps of the comparison rule, above 0 and below 1 (default: 1e-3, for float32 backends).")
    Double eps;

    @Option(names = "--batch", paramLabel = "N", converter = OptionTypes.PositiveInt.class,
            description = "Overrides the config's batch size.")
    Integer batch;

    @Option(names = "--seq-len", paramLabel = "T", converter = OptionTypes.PositiveInt.class,
            description = "Overrides the config's sequence length (at most the model's max_seq_len).")
    Integer seqLen;

    @Mixin
    OutOptions.Folder output;

    /** What validate writes into its folder. */
    static final OutDir.Outputs OUTPUTS = new OutDir.Outputs("validate", "validate.json");

    @Option(names = {"-v", "--verbose"}, description = "Print every compared tensor, not only those that failed.")
    boolean verbose;

    @Override
    protected int run(PrintWriter pw) {
        RunConfig rc0 = RunConfig.load(config);
        RunConfig rc = rc0.withDtype(dtype.orElse(rc0.dtype()));
        ModelConfig c = rc.model().config();
        output.precheck(OUTPUTS);
        int B = batch != null ? batch : rc.batch();
        int T = seqLen != null ? OptionTypes.seqLen("--seq-len", seqLen, c) : rc.seqLen();
        OptionTypes.batch(batch != null ? "--batch" : "'batch'", B, seqLen != null ? "--seq-len" : "'seq_len'", T, c);
        double tol = eps != null ? eps : 1e-3;
        Backend ref = Backends.resolve("reference");
        Backend b = backend.resolve();
        b.requirePrecision(rc.dtype());
        Batch data = rc.data().open(c.vocabSize(), B, T, rc.seed()).next();
        rc.model().params();
        try (OutDir od = output.claim(rc.name(), OUTPUTS, pw)) {
            return validate(pw, rc, c, B, T, tol, ref, b, data, od.path());
        }
    }

    private int validate(PrintWriter pw, RunConfig rc, ModelConfig c, int B, int T, double tol, Backend ref, Backend b,
            Batch data, Path dir) {
        pw.printf("validate %s: %s (%s) against the reference, dtype %s; batch %d x seq_len %d, eps %.0e%n", rc.name(),
                b.id(), b.description(), rc.dtype(), B, T, tol);

        // bf16: gradients of two bf16 implementations part at rounding boundaries (see Bf16Budget), so they get half
        // the bf16 backward budget unless --eps is given; the forward keeps the float32 eps
        double gradTol = rc.dtype() == io.resflow.engine.Precision.BF16 && eps == null
                ? io.resflow.check.Bf16Budget.of(c).pairGradEps() : tol;
        if (gradTol != tol) {
            pw.printf("  gradients and updates at eps %.2e: half the bf16 backward budget (%s)%n", gradTol,
                    io.resflow.check.Bf16Budget.of(c).describe());
        }
        Validation.Result r = Validation.run(rc, c, rc.model().params(), B, T, data, ref, b, tol, gradTol);

        Map<Validation.Section, int[]> counts = new EnumMap<>(Validation.Section.class);
        for (Validation.Row row : r.rows()) {
            int[] n = counts.computeIfAbsent(row.section(), k -> new int[2]);
            n[0] += row.cmp().ok() ? 1 : 0;
            n[1]++;
        }
        counts.forEach((sec, n) -> pw.printf("  %-9s %d of %d within tolerance%n", sec.name().toLowerCase(), n[0], n[1]));
        if (!r.notExposed().isEmpty()) {
            pw.printf("  not exposed by %s: %d intermediates (%s); compared logits and everything after%n", b.id(),
                    r.notExposed().size(), abbreviate(r.notExposed()));
        }
        int shown = 0;
        for (Validation.Row row : r.rows()) {
            if (verbose || (!row.cmp().ok() && shown < 20)) {
                shown += row.cmp().ok() ? 0 : 1;
                pw.printf("  %-4s %-40s rel_l2 %.3e  max_rel %.3e  (%s)%n", row.cmp().ok() ? "OK" : "FAIL", row.tensor(),
                        row.cmp().relL2(), row.cmp().maxRel(), row.cmp().budget());
            }
        }
        if (r.failures() > shown && !verbose) {
            pw.printf("  ... %d more failures in validate.json%n", r.failures() - shown);
        }
        pw.printf("loss: reference %.6f, %s %.6f%n", r.referenceLoss(), b.id(), r.loss());
        if (r.passed()) {
            pw.printf("validate: PASS, %d tensors within tolerance%n", r.rows().size());
        } else {
            Validation.Row f = r.firstDivergence();
            pw.printf("validate: FAIL, %d of %d tensors diverge; first divergence: %s (%s, rel_l2 %.3e, max_rel %.3e)%n",
                    r.failures(), r.rows().size(), f.where(), f.section().name().toLowerCase(), f.cmp().relL2(),
                    f.cmp().maxRel());
        }
        Json.write(dir.resolve("validate.json"), report(rc, b, B, T, tol, r, counts));
        pw.println("wrote " + dir.resolve("validate.json"));
        return r.passed() ? Main.OK : Main.CHECK_FAILED;
    }

    private static String abbreviate(java.util.List<String> names) {
        return names.size() <= 4 ? String.join(", ", names)
                : String.join(", ", names.subList(0, 3)) + ", ..., " + names.get(names.size() - 1);
    }

    private static ObjectNode report(RunConfig rc, Backend b, int B, int T, double eps, Validation.Result r,
            Map<Validation.Section, int[]> counts) {
        ObjectNode o = Json.object();
        o.put("config", rc.file().toString());
        o.put("name", rc.name());
        o.put("reference", "reference");
        o.put("backend", b.id());
        o.put("backend_description", b.description());
        o.put("batch", B);
        o.put("seq_len", T);
        o.put("eps", eps);
        o.put("lr", r.lr());
        o.put("passed", r.passed());
        Json.put(o, "reference_loss", r.referenceLoss());
        Json.put(o, "loss", r.loss());
        if (r.firstDivergence() == null) {
            o.putNull("first_divergence");
        } else {
            o.set("first_divergence", row(r.firstDivergence()));
        }
        ArrayNode ne = o.putArray("not_exposed");
        r.notExposed().forEach(ne::add);
        ObjectNode cn = o.putObject("counts");
        counts.forEach((sec, n) -> cn.putObject(sec.name().toLowerCase()).put("passed", n[0]).put("total", n[1]));
        ArrayNode rows = o.putArray("rows");
        r.rows().forEach(x -> rows.add(row(x)));
        return o;
    }

    private static ObjectNode row(Validation.Row r) {
        ObjectNode o = Json.object();
        o.put("section", r.section().name().toLowerCase());
        o.put("tensor", r.tensor());
        if (r.layer() >= 0) {
            o.put("layer", r.layer());
        } else {
            o.putNull("layer");
        }
        Json.put(o, "rel_l2", r.cmp().relL2());
        Json.put(o, "max_rel", r.cmp().maxRel());
        o.put("budget", r.cmp().budget());
        o.put("ok", r.cmp().ok());
        return o;
    }
}
