package io.resflow.bench;

import io.resflow.out.Png;

import io.resflow.out.Json;
import io.resflow.out.JsonFields;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resflow.model.BadInputException;
import io.resflow.safetensors.SafeTensorsWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/** The outputs of a benchmark: bench.json, bench.md and PNG charts; and the comparison with a baseline bench.json. */
public final class BenchReport {
    /** A cell's median moved when it changed by more than this fraction and by more than 3 spreads. */
    static final double MOVE_FRACTION = 0.10;
    static final double MOVE_SPREADS = 3.0;

    /** A baseline cell. */
    public record Base(double medianMs, double spreadMs) {
    }

    /**
     * The comparison of one cell with the baseline. {@code ratio} is new median / old median (above 1: slower).
     */
    public record Delta(double oldMedian, double oldSpread, double ratio, boolean flagged) {
        public String verdict() {
            return !flagged ? "unchanged" : ratio > 1 ? "SLOWER" : "FASTER";
        }
    }

    private BenchReport() {
    }

    /** Reads an earlier bench.json: model|backend|mode to its median and spread. */
    public static Map<String, Base> readBaseline(Path file) {
        JsonNode root = JsonFields.read(file);
        JsonNode cells = root.get("cells");
        if (cells == null || !cells.isArray()) {
            throw new BadInputException(file + ": not a bench.json (missing array 'cells')");
        }
        Map<String, Base> m = new HashMap<>();
        for (int i = 0; i < cells.size(); i++) {
            JsonNode c = cells.get(i);
            if (!"ok".equals(c.path("status").asText())) {
                continue;
            }
            for (String f : List.of("model", "backend", "mode", "median_ms", "spread_ms")) {
                if (!c.has(f)) {
                    throw new BadInputException(file + ": cells[" + i + "] has no field '" + f + "'");
                }
            }
            if (!c.get("median_ms").isNumber() || !c.get("spread_ms").isNumber()) {
                throw new BadInputException(file + ": cells[" + i + "]: median_ms and spread_ms must be numbers");
            }
            m.put(c.get("model").asText() + "|" + c.get("backend").asText() + "|" + c.get("mode").asText(),
                    new Base(c.get("median_ms").asDouble(), c.get("spread_ms").asDouble()));
        }
        return m;
    }

    /**
     * The cells of a bench.json as the bench that wrote it had them, so that the reports of cells run apart (resflow
     * bench --cell I, one per job) can be merged with the writers of a local run. What the cell's lines hold comes
     * back as it was written (times, statistics, memory, check, decode figures); a missing field is bad input naming
     * the file and the field.
     */
    public static List<Bench.Cell> readCells(Path file) {
        JsonNode cells = JsonFields.read(file).get("cells");
        if (cells == null || !cells.isArray()) {
            throw new BadInputException(file + ": not a bench.json (missing array 'cells')");
        }
        List<Bench.Cell> list = new ArrayList<>();
        for (int i = 0; i < cells.size(); i++) {
            list.add(cell(new JsonFields(cells.get(i), file, "cells[" + i + "].")));
        }
        return list;
    }

    private static Bench.Cell cell(JsonFields f) {
        String modeId = f.text("mode");
        BenchConfig.Mode mode = java.util.Arrays.stream(BenchConfig.Mode.values()).filter(m -> m.id().equals(modeId))
                .findFirst().orElseThrow(() -> new BadInputException(f.file() + ": field '" + f.prefix()
                        + "mode' is '" + modeId + "', not forward, train or decode"));
        String status = f.text("status");
        String reason = f.has("reason") ? f.text("reason") : null;
        long params = f.required("params").asLong();
        double flops = f.numberOrNaN("gflop_per_step") * 1e9;
        if (!status.equals("ok")) {
            return new Bench.Cell(f.text("model"), f.text("backend_spec"), f.text("backend"),
                    f.text("backend_description"), mode, f.integer("batch"), f.integer("seq_len"), params, status,
                    reason, new double[0], Stats.of(new double[0]), flops, null, -1, false, -1, -1, null, null);
        }
        JsonNode t = f.required("times_ms");
        if (!t.isArray()) {
            throw new BadInputException(f.file() + ": field '" + f.prefix() + "times_ms' must be an array");
        }
        double[] times = new double[t.size()];
        for (int i = 0; i < times.length; i++) {
            times[i] = t.get(i).asDouble();
        }
        Stats stats = new Stats(f.numberOrNaN("median_ms"), f.numberOrNaN("spread_ms"), f.numberOrNaN("min_ms"), f.numberOrNaN("max_ms"),
                f.numberOrNaN("mean_ms"), f.numberOrNaN("stddev_ms"));
        JsonFields ch = f.object("check");
        JsonNode matched = ch.required("matched");
        Bench.CheckResult check = new Bench.CheckResult(ch.text("against"), matched.isNull() ? null : matched.asBoolean(),
                ch.numberOrNaN("loss_rel"), ch.numberOrNaN("logits_rel_l2"), ch.numberOrNaN("grad_norm_rel"), ch.text("note"));
        Bench.Decoding decoding = f.has("prompt_len") ? new Bench.Decoding(f.integer("prompt_len"),
                f.integer("new_tokens"), f.numberOrNaN("ttft_ms"), f.numberOrNaN("decode_tokens_per_s")) : null;
        Double peak = f.has("peak_gflops") ? f.numberOrNaN("peak_gflops") : null;
        return new Bench.Cell(f.text("model"), f.text("backend_spec"), f.text("backend"), f.text("backend_description"),
                mode, f.integer("batch"), f.integer("seq_len"), params, status, reason, times, stats, flops, peak,
                Math.round(f.numberOrNaN("peak_rss_mb") * 1048576.0), f.text("peak_rss_scope").equals("cell"),
                Math.round(f.numberOrNaN("heap_peak_mb") * 1048576.0), Math.round(f.numberOrNaN("heap_live_mb") * 1048576.0),
                check, decoding);
    }

    public static Delta delta(Bench.Cell c, Base b) {
        double now = c.stats().median();
        double diff = Math.abs(now - b.medianMs());
        double spread = Math.max(c.stats().spread(), b.spreadMs());
        boolean flagged = diff > MOVE_FRACTION * b.medianMs() && diff > MOVE_SPREADS * spread;
        return new Delta(b.medianMs(), b.spreadMs(), now / b.medianMs(), flagged);
    }

    public static ObjectNode json(BenchConfig cfg, List<Bench.Cell> cells, Map<String, Delta> deltas, Path baseline) {
        ObjectNode o = Json.object();
        o.put("config", cfg.file().toString());
        o.put("name", cfg.name());
        o.put("time", java.time.OffsetDateTime.now().toString());
        ObjectNode host = o.putObject("host");
        host.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        host.put("cpus", Runtime.getRuntime().availableProcessors());
        host.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        host.put("max_heap_mb", Runtime.getRuntime().maxMemory() >> 20);
        o.put("warmup", cfg.warmup());
        o.put("repeats", cfg.repeats());
        o.put("check", cfg.check().id());
        o.put("dtype", cfg.dtype().id());
        o.put("spread", "median absolute deviation of the step times");
        o.put("flops", "matrix products only: 2 per multiply-add; a train step counts 3 forward passes");
        if (baseline != null) {
            o.put("baseline", baseline.toString());
        }
        ArrayNode arr = o.putArray("cells");
        for (Bench.Cell c : cells) {
            ObjectNode n = arr.addObject();
            n.put("model", c.model());
            n.put("backend", c.backend());
            n.put("backend_spec", c.spec());
            n.put("backend_description", c.description());
            n.put("mode", c.mode().id());
            n.put("batch", c.batch());
            n.put("seq_len", c.seqLen());
            n.put("params", c.params());
            n.put("status", c.status());
            if (c.reason() != null) {
                n.put("reason", c.reason());
            }
            n.put("gflop_per_step", c.flopsPerStep() / 1e9);
            if (c.ok()) {
                ArrayNode t = n.putArray("times_ms");
                for (double v : c.timesMs()) {
                    t.add(v);
                }
                n.put("median_ms", c.stats().median());
                n.put("spread_ms", c.stats().spread());
                n.put("min_ms", c.stats().min());
                n.put("max_ms", c.stats().max());
                n.put("mean_ms", c.stats().mean());
                n.put("stddev_ms", c.stats().stddev());
                n.put("tokens_per_s", c.tokensPerSecond());
                if (c.decoding() != null) {
                    n.put("prompt_len", c.decoding().promptLen());
                    n.put("new_tokens", c.decoding().newTokens());
                    Json.put(n, "ttft_ms", c.decoding().ttftMs());
                    Json.put(n, "decode_tokens_per_s", c.decoding().decodeTokensPerSecond());
                    n.put("tokens_per_s_meaning", "new_tokens / (prefill + decode time), as HF generate is timed");
                }
                n.put("gflops", c.gflops());
                if (c.peakGflops() != null) {
                    n.put("peak_gflops", c.peakGflops());
                    n.put("peak_fraction", c.peakFraction());
                } else {
                    n.putNull("peak_fraction");
                }
                n.put("peak_rss_mb", c.peakRssBytes() / 1048576.0);
                n.put("peak_rss_scope", c.rssPerCell() ? "cell" : "process");
                n.put("heap_peak_mb", c.heapPeakBytes() / 1048576.0);
                n.put("heap_live_mb", c.heapLiveBytes() / 1048576.0);
                ObjectNode ch = n.putObject("check");
                ch.put("against", c.check().against());
                if (c.check().matched() == null) {
                    ch.putNull("matched");
                } else {
                    ch.put("matched", c.check().matched());
                }
                Json.put(ch, "loss_rel", c.check().lossRel());
                Json.put(ch, "logits_rel_l2", c.check().logitsRelL2());
                Json.put(ch, "grad_norm_rel", c.check().gradNormRel());
                ch.put("note", c.check().note());
                Delta d = deltas.get(c.key());
                if (d != null) {
                    ObjectNode b = n.putObject("baseline");
                    b.put("median_ms", d.oldMedian());
                    b.put("spread_ms", d.oldSpread());
                    b.put("ratio", d.ratio());
                    b.put("flagged", d.flagged());
                    b.put("verdict", d.verdict());
                }
            }
        }
        return o;
    }

    public static String markdown(BenchConfig cfg, List<Bench.Cell> cells, Map<String, Delta> deltas) {
        StringBuilder sb = new StringBuilder();
        sb.append("# Benchmark ").append(cfg.name()).append("\n\n");
        sb.append(String.format("%d warm-up and %d measured iterations per cell, dtype %s; %s, %d CPUs, %s. Spread: median "
                + "absolute deviation. GFLOP/s counts matrix products only.%n%n", cfg.warmup(), cfg.repeats(), cfg.dtype(),
                System.getProperty("os.name") + " " + System.getProperty("os.arch"),
                Runtime.getRuntime().availableProcessors(), "Java " + System.getProperty("java.version")));
        boolean base = !deltas.isEmpty();
        sb.append("| model | backend | mode | batch x seq | median ms | spread ms | tokens/s | GFLOP/s | % of peak | "
                + "peak RSS MB | heap peak / live MB | matches | ").append(base ? "vs baseline |" : "").append('\n');
        sb.append("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
                .append(base ? " --- |" : "").append('\n');
        for (Bench.Cell c : cells) {
            if (!c.ok()) {
                sb.append(String.format("| %s | %s | %s | %d x %d | %s: %s | | | | | | | |%s%n", c.model(), c.backend(),
                        c.mode().id(), c.batch(), c.seqLen(), c.status(), c.reason().replace("|", "/"), base ? " |" : ""));
                continue;
            }
            String match = c.check().matched() == null ? "not checked"
                    : (c.check().matched() ? "yes (" : "**NO** (") + c.check().against() + ")";
            Delta d = deltas.get(c.key());
            String vs = d == null ? "-" : String.format("%.2fx%s", d.ratio(), d.flagged() ? " **" + d.verdict() + "**" : "");
            sb.append(String.format("| %s | %s | %s | %d x %d | %.3f | %.3f | %,.0f | %.2f | %s | %.0f%s | %.0f / %.0f | %s |%s%n",
                    c.model(), c.backend(), c.mode().id(), c.batch(), c.seqLen(), c.stats().median(), c.stats().spread(),
                    c.tokensPerSecond(), c.gflops(),
                    c.peakGflops() == null ? "-" : String.format("%.1f%%", 100 * c.peakFraction()),
                    c.peakRssBytes() / 1048576.0, c.rssPerCell() ? "" : "*", c.heapPeakBytes() / 1048576.0, c.heapLiveBytes() / 1048576.0, match,
                    base ? " " + vs + " |" : ""));
        }
        sb.append("\nPeak RSS: VmHWM of the process during the cell (reset before each cell; memory the JVM kept from earlier "
                + "cells still counts, so run one backend per process for isolated numbers). Heap peak: the heap pools' "
                + "peak (includes garbage not yet collected); live: heap in use after a GC with the session open.\n");
        if (cells.stream().anyMatch(c -> c.ok() && !c.rssPerCell())) {
            sb.append("\n\\* process peak since start (the peak could not be reset per cell)\n");
        }
        if (base) {
            sb.append(String.format("%nvs baseline: new median / old median; flagged when it moved by more than %.0f%% and "
                    + "more than %.0f times the spread.%n", 100 * MOVE_FRACTION, MOVE_SPREADS));
        }
        return sb.toString();
    }

    /**
     * One chart per mode and measure: tokens/s (log scale) and step time with the spread as error bars (linear
     * scale); x = model, a bar per backend.
     */
    public static List<Path> charts(Path dir, List<Bench.Cell> cells, List<BenchConfig.Mode> modes) {
        List<Path> files = new ArrayList<>();
        for (BenchConfig.Mode mode : modes) {
            List<Bench.Cell> ok = cells.stream().filter(c -> c.mode() == mode && c.ok()).toList();
            if (ok.isEmpty()) {
                continue;
            }
            Set<String> models = new LinkedHashSet<>();
            Set<String> backends = new LinkedHashSet<>();
            ok.forEach(c -> {
                models.add(c.model());
                backends.add(c.backend());
            });
            files.add(chart(dir.resolve("tokens_per_s-" + mode.id() + ".png"), "tokens/s, " + mode.id()
                    + " (higher is better)", "tokens/s", ok, models, backends, true));
            files.add(chart(dir.resolve("step_ms-" + mode.id() + ".png"), "median step time, " + mode.id()
                    + " (error bars: spread)", "ms", ok, models, backends, false));
        }
        return files;
    }

    private static Path chart(Path file, String title, String yTitle, List<Bench.Cell> cells, Set<String> models,
            Set<String> backends, boolean throughput) {
        CategoryChart chart = new CategoryChartBuilder().width(1000).height(560).title(title).xAxisTitle("model")
                .yAxisTitle(yTitle).build();
        double max = cells.stream().mapToDouble(Bench.Cell::tokensPerSecond).max().orElse(1);
        double min = cells.stream().mapToDouble(Bench.Cell::tokensPerSecond).min().orElse(1);
        if (throughput && max > 30 * min) { // backends orders of magnitude apart: log scale, markers (bars need a zero)
            chart.getStyler().setYAxisLogarithmic(true);
            chart.getStyler().setDefaultSeriesRenderStyle(org.knowm.xchart.CategorySeries.CategorySeriesRenderStyle.Scatter);
            chart.getStyler().setMarkerSize(12);
        }
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideS);
        chart.getStyler().setLegendLayout(org.knowm.xchart.style.Styler.LegendLayout.Horizontal);
        List<String> x = List.copyOf(models);
        for (String b : backends) {
            List<Double> y = new ArrayList<>();
            List<Double> err = new ArrayList<>();
            for (String m : x) {
                Bench.Cell c = cells.stream().filter(k -> k.model().equals(m) && k.backend().equals(b)).findFirst().orElse(null);
                // a missing cell (skipped, failed) is NaN: XChart leaves it out (null is not allowed)
                y.add(c == null ? Double.NaN : throughput ? c.tokensPerSecond() : c.stats().median());
                err.add(c == null ? Double.NaN : throughput ? 0.0 : c.stats().spread());
            }
            if (throughput) {
                chart.addSeries(b, x, y);
            } else {
                chart.addSeries(b, x, y, err);
            }
        }
        Png.write(file, chart);
        return file;
    }

    public static void writeText(Path file, String text) {
        SafeTensorsWriter.writeAtomically(file, text.getBytes(StandardCharsets.UTF_8));
    }
}
