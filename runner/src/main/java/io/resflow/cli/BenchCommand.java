package io.resflow.cli;

import io.resflow.cli.options.ResflowCommand;
import io.resflow.bench.Bench;
import io.resflow.bench.BenchConfig;
import io.resflow.bench.BenchReport;
import io.resflow.cli.options.OptionTypes;
import io.resflow.cli.options.OutOptions;
import io.resflow.out.Json;
import io.resflow.out.OutDir;

import io.resflow.model.BadInputException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
                A matrix split over jobs (a Slurm array: scripts/slurm/bench-array.sbatch): --list-cells numbers the \
                cells, --cell I runs one, --merge CELLS writes the reports of all from their folders.""", """
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

    @Option(names = "--list-cells", description = "Print the matrix's cells, one line each (index, model, backend, "
            + "mode: the indexes --cell takes), and exit; writes nothing.")
    boolean listCells;

    @Option(names = "--cell", paramLabel = "I", converter = OptionTypes.NonNegativeInt.class,
            description = "Run only cell I of the matrix (0-based, as --list-cells numbers them; one Slurm array task "
                    + "each: scripts/slurm/bench-array.sbatch); its folder holds the reports of that one cell.")
    Integer cell;

    @Option(names = "--merge", paramLabel = "CELLS", description = "Run nothing: read CELLS/0 .. CELLS/N-1 (the "
            + "--out folders of --cell 0 .. N-1 of the same CONFIG) and write the reports of the whole matrix, as one "
            + "run would have.")
    Path merge;

    @Mixin
    OutOptions.Folder output;

    @Mixin
    io.resflow.cli.options.DtypeOption dtype;

    /** What bench writes into its folder. */
    static final OutDir.Outputs OUTPUTS = new OutDir.Outputs("bench", "bench.json", "bench.md", "tokens_per_s-*.png",
            "step_ms-*.png");

    @Override
    protected int run(PrintWriter pw) {
        System.setProperty("java.awt.headless", "true");
        BenchConfig cfg = BenchConfig.load(config);
        if ((listCells ? 1 : 0) + (cell != null ? 1 : 0) + (merge != null ? 1 : 0) > 1) {
            throw new BadInputException("--list-cells, --cell and --merge: give at most one of them");
        }
        if (!listCells) {
            output.precheck(OUTPUTS);
        }
        if (repeats != null || warmup != null || backends != null) {
            cfg = new BenchConfig(cfg.file(), cfg.name(), cfg.models(), backends != null ? backends : cfg.backends(),
                    cfg.modes(), warmup != null ? warmup : cfg.warmup(), repeats != null ? repeats : cfg.repeats(),
                    cfg.maxSecondsPerCell(), cfg.peakGflops(), cfg.check(), cfg.referenceMaxGflop(), cfg.seed(),
                    cfg.promptLen(), cfg.newTokens(), cfg.dtype());
        }
        if (dtype.given()) {
            cfg = cfg.withDtype(dtype.precision());
        }
        Map<String, BenchReport.Base> base = baseline != null ? BenchReport.readBaseline(baseline) : Map.of();
        List<Bench.Target> targets = Bench.targets(cfg.backends());
        List<Bench.Slot> slots = Bench.slots(cfg, targets);
        if (listCells) {
            slots.forEach(s -> pw.println(s.describe()));
            return Main.OK;
        }
        if (cell != null && cell >= slots.size()) {
            throw new BadInputException("--cell " + cell + ": " + config + " has " + slots.size() + " cells (0.."
                    + (slots.size() - 1) + "; --list-cells lists them)");
        }
        List<Bench.Cell> merged = merge != null ? merged(slots) : null;
        try (OutDir od = output.claim(cfg.name(), OUTPUTS, pw)) {
            return run(pw, cfg, base, targets, slots, merged, od.path());
        }
    }

    /** The cells of CELLS/0 .. CELLS/N-1, each checked to be the matrix's cell of that index. */
    private List<Bench.Cell> merged(List<Bench.Slot> slots) {
        List<Bench.Cell> cells = new ArrayList<>();
        for (Bench.Slot s : slots) {
            Path f = merge.resolve(Integer.toString(s.index())).resolve("bench.json");
            if (!Files.isRegularFile(f)) {
                throw new BadInputException(f + ": not found: cell " + s.describe() + " of " + slots.size()
                        + " (run resflow bench " + config + " --cell " + s.index() + " --out " + f.getParent() + ")");
            }
            List<Bench.Cell> in = BenchReport.readCells(f);
            if (in.size() != 1 || !s.holds(in.get(0))) {
                throw new BadInputException(f + ": field 'cells' must hold cell " + s.describe() + " of " + config
                        + " only; it holds " + in.size() + (in.size() == 1 ? " (" + in.get(0).model() + " "
                        + in.get(0).spec() + " " + in.get(0).mode().id() + ")" : ""));
            }
            cells.add(in.get(0));
        }
        return cells;
    }

    private int run(PrintWriter pw, BenchConfig cfg, Map<String, BenchReport.Base> base, List<Bench.Target> targets,
            List<Bench.Slot> slots, List<Bench.Cell> merged, Path dir) {
        List<Bench.Cell> cells;
        if (merged != null) {
            pw.printf("bench %s: %d cells merged from %s%n", cfg.name(), merged.size(), merge);
            cells = merged;
        } else {
            pw.printf("bench %s: %d models x %d backends x %d modes, %d warm-up + %d measured iterations, check %s, "
                    + "dtype %s%n", cfg.name(), cfg.models().size(), targets.size(), cfg.modes().size(), cfg.warmup(),
                    cfg.repeats(), cfg.check().id(), cfg.dtype());
            for (Bench.Target t : targets) {
                pw.printf("  %-14s %s%n", t.spec(), t.backend() != null ? t.backend().description() : "skipped: " + t.skipReason());
            }
            if (cell != null) {
                pw.printf("only cell %s of %d%n", slots.get(cell).describe(), slots.size());
                cells = List.of(new Bench(cfg, pw).run(slots.get(cell)));
            } else {
                cells = new Bench(cfg, pw).run(targets);
            }
        }

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
