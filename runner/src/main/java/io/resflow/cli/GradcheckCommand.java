package io.resflow.cli;

import io.resflow.cli.options.ResflowCommand;
import io.resflow.cli.options.ModelArgument;
import io.resflow.cli.options.OptionTypes;
import io.resflow.train.ModelSource;

import io.resflow.check.FiniteDifference;
import io.resflow.check.ModelGradCheck;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code resflow gradcheck MODEL}: finite differences against the reference's analytic gradients. */
@Command(name = "gradcheck", mixinStandardHelpOptions = true,
        description = "Finite-difference check of the reference backend's gradients on a (small) model: one row per parameter tensor.")
final class GradcheckCommand extends ResflowCommand {
    @Mixin
    ModelArgument model;

    @Option(names = "--samples", defaultValue = "6", converter = OptionTypes.PositiveInt.class,
            description = "Entries checked per tensor, 1 or more (default: ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--seq-len", defaultValue = "6", converter = OptionTypes.PositiveInt.class,
            description = "Sequence length of the seeded batch, at most the model's max_seq_len (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--tolerance", defaultValue = "1e-2", converter = OptionTypes.Tolerance.class,
            description = "Allowed rel_l2 between analytic and numerical gradients, above 0 and below 1 (default: ${DEFAULT-VALUE}).")
    double tolerance;

    @Override
    protected int run(PrintWriter out) {
        ModelSource src = model.open();
        var c = src.config();
        int T = OptionTypes.seqLen("--seq-len", seqLen, c);
        OptionTypes.batch("batch", 2, "--seq-len", T, c);
        var o = new ModelGradCheck.Options(2, T, samples, 1e-2, tolerance, 7);
        List<FiniteDifference.Result> results = ModelGradCheck.run(c, src.params(), o);
        int w = results.stream().mapToInt(r -> r.name().length()).max().orElse(6);
        out.printf("%-" + w + "s  %7s  %10s  %10s  %10s  %s%n", "tensor", "checked", "rel_l2", "max_abs_err", "max|grad|", "");
        int failed = 0;
        for (FiniteDifference.Result r : results) {
            boolean ok = r.ok(tolerance);
            failed += ok ? 0 : 1;
            out.printf("%-" + w + "s  %7d  %10.3e  %10.3e  %10.3e  %s%n", r.name(), r.checked(), r.relL2(), r.maxAbsErr(),
                    r.maxAbsGrad(), ok ? "OK" : "FAIL");
        }
        out.printf("gradcheck %s: %s, %d of %d tensors within rel_l2 %.0e%n", src.name(), failed == 0 ? "PASS" : "FAIL",
                results.size() - failed, results.size(), tolerance);
        return failed == 0 ? Main.OK : Main.CHECK_FAILED;
    }
}
