package io.resflow.cli;

import io.resflow.cli.options.ResflowCommand;
import io.resflow.cli.options.BackendOption;
import io.resflow.cli.options.OptionTypes;

import io.resflow.check.Bf16Budget;
import io.resflow.check.CheckReport;
import io.resflow.check.TestVectors;
import io.resflow.check.VectorCheck;
import io.resflow.engine.Backend;
import io.resflow.engine.Backends;
import io.resflow.engine.Precision;
import io.resflow.cli.options.DtypeOption;
import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code resflow check DIR}: reproduce a test-vector folder on a backend. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"""
                Runs forward, backward, one AdamW step and the further steps a test-vector folder describes, and \
                compares logits, loss, every gradient, every parameter update and the losses after each step with \
                the folder's oracle values (rule of testvectors/README.md).""", """
                Exit 0 when all pass, 1 when any fails, 2 on bad input."""})
final class CheckCommand extends ResflowCommand {
    @Parameters(paramLabel = "DIR", arity = "1..*", description = "Test-vector folder(s): config.json, model.safetensors, vectors.safetensors, vectors.json; a folder of such folders (e.g. testvectors) checks each.")
    Path[] dirs;

    @Mixin
    BackendOption.Defaulted backend = new BackendOption.Defaulted("reference");

    @Option(names = "--eps", converter = OptionTypes.Tolerance.class,
            description = "Tolerance eps of the comparison rule, above 0 and below 1 (default: 1e-4 for the reference, 1e-3 for float32 backends; with --dtype bf16 the bf16 budget, a formula of the config).")
    Double eps;

    @Mixin
    DtypeOption dtype;

    @Override
    protected int run(PrintWriter out) {
        Backend b = backend.resolve();
        Precision p = dtype.precision();
        b.requirePrecision(p);
        double tol = eps != null ? eps : (b.id().equals("reference") ? 1e-4 : 1e-3);
        boolean all = true;
        java.util.List<Path> folders = new java.util.ArrayList<>();
        for (Path dir : dirs) {
            boolean parent = java.nio.file.Files.isDirectory(dir) && !TestVectors.isFolder(dir)
                    && !java.nio.file.Files.exists(dir.resolve("config.json"));
            java.util.List<Path> inside = parent ? TestVectors.folders(dir) : java.util.List.of();
            if (inside.isEmpty()) {
                folders.add(dir);
            } else {
                folders.addAll(inside);
            }
        }
        for (Path dir : folders) {
            TestVectors tv = TestVectors.load(dir);
            CheckReport report;
            if (p == Precision.BF16 && eps == null) {
                // the folder's values are fp32: the bf16 run is held to the budget of its rounding points
                Bf16Budget budget = Bf16Budget.of(tv.config());
                report = VectorCheck.runBf16(tv, b);
                out.println("== " + dir + " on " + b.id() + " (" + b.description() + "), dtype bf16 against the "
                        + "folder's fp32 values; " + budget.describe());
            } else {
                report = VectorCheck.run(tv, b, tol, p);
                out.println("== " + dir + " on " + b.id() + " (" + b.description() + "), dtype " + p + ", eps " + tol);
            }
            out.print(report.table());
            out.println(report.summary());
            all &= report.passed();
        }
        if (folders.size() > 1) {
            out.println(all ? "check: all folders passed" : "check: FAILED");
        }
        return all ? Main.OK : Main.CHECK_FAILED;
    }
}
