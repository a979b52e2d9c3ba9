package io.resflow.cli;

import io.resflow.cli.options.ResflowCommand;
import io.resflow.bench.Bench;
import io.resflow.bench.BenchConfig;
import io.resflow.bench.BenchReport;
import io.resflow.cli.options.OptionTypes;
import io.resflow.cli.options.OutOptions;
import io.resflow.out.Json;
import io.resflow.out.OutDir;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code resflow bench CONFIG}: a matrix of models x backends/devices x modes. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Benchmark models x backends/devices x modes; compare with a baseline.",
        description = {"""
                Runs a benchmark matrix (models x backends/devices x modes forward and train step) with warm-up \
                and repeated measurement. Reports per cell the median and spread of the step time, tokens/s, \
                GFLOP/s (and the fraction of the device's peak where the config gives it), peak RSS and JVM heap, \
                and whether the result matched the reference. Writes bench.json, bench.md and PNG charts.""", """
                With --baseline FILE (an earlier bench.json) prints the ratio per cell and flags cells whose \
                median moved by more than 10%% and by more than 3 times the spread.""", """
                Exit 0 done, 1 a cell did not match its check, 2 bad input, 3 a cell failed at run time."""})
final class BenchCommand extends ResflowCommand {
    @Parameters(paramLabel = "CONFIG", description = "Bench config (JSON), e.g. configs/bench-matrix.json.")
    Path config;

    @Option(names = "--baseline", paramLabel = "FILE", description = "An earlier bench.json to compare with.")
    Path baseline;

    @Option(names = "--backends", split = ",", paramLabel = "B", description = "Overrides the config's backends (comma-separated; name:* means every device).")
    List<String> backends;

    @Option(names = "--repeats", paramLabel = "N", converter = OptionTypes.PositiveInt.class,
            description = "Overrides the config's measured iterations per cell (1 or more).")
    Integer repeats;

    @Option(names = "--warmup", paramLabel = "N", converter = OptionTypes.PositiveInt.class,
            description = "Overrides the config's warm-up iterations per cell (1 or more: the first checks the result).")
    Integer warmup;

    @Mixin
    OutOptions.Folder output;

    /** What bench writes into its folder. */
    static final OutDir.Outputs OUTPUTS = new OutDir.Outputs("bench", "bench.json", "bench.md", "tokens_per_s-*.png",
            "step_ms-*.png");

    @Override
    protected int run(PrintWriter pw) {
        System.setProperty("java.awt.headless", "true");
        BenchConfig cfg = BenchConfig.load(config);
        output.precheck(OUTPUTS);
        if (repeats != null || warmup != null || backends != null) {
            cfg = new BenchConfig(cfg.file(), cfg.name(), cfg.models(), backends != null ? backends : cfg.backends(),
                    cfg.modes(), warmup != null ? warmup : cfg.warmup(), repeats != null ? repeats : cfg.repeats(),
                    cfg.maxSecondsPerCell(), cfg.peakGflops(), cfg.check(), cfg.referenceMaxGflop(), cfg.seed(),
                    cfg.promptLen(), cfg.newTokens());
        }
        Map<String, BenchReport.Base> base = baseline != null ? BenchReport.readBaseline(baseline) : Map.of();
        List<Bench.Target> targets = Bench.targets(cfg.backends());
        try (OutDir od = output.claim(cfg.name(), OUTPUTS, pw)) {
            return run(pw, cfg, base, targets, od.path());
        }
    }

    private int run(PrintWriter pw, BenchConfig cfg, Map<String, BenchReport.Base> base, List<Bench.Target> targets,
            Path dir) {
        pw.printf("bench %s: %d models x %d backends x %d modes, %d warm-up + %d measured iterations, check %s%n",
                cfg.name(), cfg.models().size(), targets.size(), cfg.modes().size(), cfg.warmup(), cfg.repeats(),
                cfg.check().id());
        for (Bench.Target t : targets) {
            pw.printf("  %-14s %s%n", t.spec(), t.backend() != null ? t.backend().description() : "skipped: " + t.skipReason());
        }
        List<Bench.Cell> cells = new Bench(cfg, pw).run(targets);

        Map<String, BenchReport.Delta> deltas = new LinkedHashMap<>();
        for (Bench.Cell c : cells) {
            BenchReport.Base b = base.get(c.key());
            if (c.ok() && b != null) {
                deltas.put(c.key(), BenchReport.delta(c, b));
            }
        }
        if (baseline != null) {
            pw.println("against baseline " + baseline + " (ratio = new median / old median):");
            for (Bench.Cell c : cells) {
                BenchReport.Delta d = deltas.get(c.key());
                if (d != null) {
                    pw.printf("  %-16s %-14s %-7s %9.3f ms vs %9.3f ms  %.2fx  %s%n", c.model(), c.backend(), c.mode().id(),
                            c.stats().median(), d.oldMedian(), d.ratio(), d.flagged() ? d.verdict() + " (flagged)" : "");
                } else if (c.ok()) {
                    pw.printf("  %-16s %-14s %-7s not in the baseline%n", c.model(), c.backend(), c.mode().id());
                }
            }
            long flagged = deltas.values().stream().filter(BenchReport.Delta::flagged).count();
            pw.printf("  %d of %d cells compared, %d flagged%n", deltas.size(), cells.stream().filter(Bench.Cell::ok).count(),
                    flagged);
        }
        Json.write(dir.resolve("bench.json"), BenchReport.json(cfg, cells, deltas, baseline));
        BenchReport.writeText(dir.resolve("bench.md"), BenchReport.markdown(cfg, cells, deltas));
        List<Path> charts = BenchReport.charts(dir, cells, cfg.modes());
        pw.printf("wrote %s: bench.json, bench.md%s%n", dir, charts.isEmpty() ? ""
                : ", " + String.join(", ", charts.stream().map(p -> p.getFileName().toString()).toList()));
        if (cells.stream().anyMatch(c -> c.status().equals("error"))) {
            return Main.RUNTIME_FAILURE;
        }
        boolean mismatch = cells.stream().anyMatch(c -> c.ok() && Boolean.FALSE.equals(c.check().matched()));
        return mismatch ? Main.CHECK_FAILED : Main.OK;
    }
}
