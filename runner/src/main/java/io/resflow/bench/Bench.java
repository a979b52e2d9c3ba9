package io.resflow.bench;

import io.resflow.data.Batch;
import io.resflow.data.SyntheticData;

import io.resflow.check.Comparison;
import io.resflow.engine.AdamW;
import io.resflow.engine.Backend;
import io.resflow.engine.BackendProvider;
import io.resflow.engine.Backends;
import io.resflow.engine.DeviceInfo;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs a benchmark matrix. Each cell (model x backend x mode) opens a session, runs {@code warmup} iterations (the
 * first also checks the result), then times {@code repeats} iterations; a forward iteration is one forward pass with
 * loss, a train iteration is forward, backward, gradient norm and one AdamW step.
 *
 * <p>The check compares the first iteration's loss and logits (and for train the gradient norm) with another
 * backend on the same batch, eps 1e-3: {@code reference}; {@code jvm}; {@code reduced} (batch 1, at most 16
 * positions, against the reference, for models too big for it); {@code auto} picks the reference when one forward
 * pass is at most {@code reference_max_gflop}, else jvm, else reduced; {@code none}.
 */
public final class Bench {
    static final Set<String> KNOWN_BACKENDS = Set.of("reference", "jvm", "tornado");
    static final double EPS = 1e-3;
    static final int REDUCED_SEQ = 16;

    /** A backend of the matrix, or the reason it is skipped. */
    public record Target(String spec, Backend backend, String skipReason) {
    }

    /** @param matched null when not checked */
    public record CheckResult(String against, Boolean matched, double lossRel, double logitsRelL2, double gradNormRel, String note) {
    }

    public record Cell(String model, String spec, String backend, String description, BenchConfig.Mode mode, int batch,
            int seqLen, long params, String status, String reason, double[] timesMs, Stats stats, double flopsPerStep,
            Double peakGflops, long peakRssBytes, boolean rssPerCell, long heapPeakBytes, long heapLiveBytes,
            CheckResult check, Decoding decoding) {

        public boolean ok() {
            return status.equals("ok");
        }

        public String key() {
            return model + "|" + backend + "|" + mode.id();
        }

        /** Tokens per second of an iteration; for decode the generated tokens over prefill plus decode time. */
        double tokensPerSecond() {
            if (decoding != null) {
                return decoding.newTokens() / (stats.median() / 1e3);
            }
            return batch * (double) seqLen / (stats.median() / 1e3);
        }

        double gflops() {
            return flopsPerStep / (stats.median() / 1e3) / 1e9;
        }

        double peakFraction() {
            return peakGflops == null ? Double.NaN : gflops() / peakGflops;
        }
    }

    private record Expected(double loss, float[] logits, double gradNorm) {
    }

    /**
     * A decode cell's figures: prompt and generated lengths, the median time to first token (prefill and the choice
     * of the first token) and the median tokens/s of the decode steps after it.
     */
    record Decoding(int promptLen, int newTokens, double ttftMs, double decodeTokensPerSecond) {
    }

    private final BenchConfig cfg;
    private final PrintWriter out;
    private final Map<String, Expected> expected = new HashMap<>();

    public Bench(BenchConfig cfg, PrintWriter out) {
        this.cfg = cfg;
        this.out = out;
    }

    /** Expands {@code name:*} to every device of that provider; known backends that are not loaded are skipped. */
    public static List<Target> targets(List<String> specs) {
        List<BackendProvider> providers = Backends.providers();
        List<Target> list = new ArrayList<>();
        for (String spec : specs) {
            int colon = spec.indexOf(':');
            String name = colon < 0 ? spec : spec.substring(0, colon);
            BackendProvider p = providers.stream().filter(x -> x.name().equals(name)).findFirst().orElse(null);
            if (p == null && !spec.equals("auto")) {
                if (!KNOWN_BACKENDS.contains(name)) {
                    Backends.resolve(spec); // throws the registry's "unknown backend" message
                }
                list.add(new Target(spec, null, "not available in this installation (the " + name
                        + " module is not on the class path)"));
                continue;
            }
            if (spec.endsWith(":*")) {
                for (DeviceInfo d : p.devices()) {
                    list.add(new Target(d.spec(), Backends.resolve(d.spec()), null));
                }
            } else {
                list.add(new Target(spec, Backends.resolve(spec), null));
            }
        }
        return list;
    }

    /**
     * One place of the matrix: its index in the order {@link #run} makes the cells (models, then backends, then
     * modes), the model, backend and mode.
     */
    public record Slot(int index, BenchConfig.Model model, Target target, BenchConfig.Mode mode) {
        /** Whether {@code c} is this place's cell: the same model, backend spec and mode. */
        public boolean holds(Cell c) {
            return c.model().equals(model.name()) && c.spec().equals(target.spec()) && c.mode() == mode;
        }

        /** For listings: {@code 3  gpt2-tiny jvm:2 train}. */
        public String describe() {
            return index + " " + model.name() + " " + target.spec() + " " + mode.id();
        }
    }

    /** The matrix's places in the order {@link #run} makes their cells. */
    public static List<Slot> slots(BenchConfig cfg, List<Target> targets) {
        List<Slot> slots = new ArrayList<>();
        for (BenchConfig.Model m : cfg.models()) {
            for (Target t : targets) {
                for (BenchConfig.Mode mode : cfg.modes()) {
                    slots.add(new Slot(slots.size(), m, t, mode));
                }
            }
        }
        return slots;
    }

    /** Runs the cell of one place only (a bench split over jobs: resflow bench --cell I), as {@link #run} would. */
    public Cell run(Slot slot) {
        Cell c = cell(slot.model(), slot.target(), slot.mode());
        print(c);
        expected.clear();
        return c;
    }

    public List<Cell> run(List<Target> targets) {
        // in the order of slots(), so that --cell I and a whole run make the same cell I; the weights are made (or
        // read) again for every session rather than held across cells: a cell's memory is then its session's, not
        // the session's plus a second copy of the weights; the expected results are kept per model
        List<Cell> cells = new ArrayList<>();
        BenchConfig.Model model = null;
        for (Slot slot : slots(cfg, targets)) {
            if (slot.model() != model) {
                expected.clear();
                model = slot.model();
            }
            Cell c = cell(slot.model(), slot.target(), slot.mode());
            cells.add(c);
            print(c);
        }
        expected.clear();
        return cells;
    }

    private void print(Cell c) {
        String head = String.format("%-16s %-14s %-7s B%d x T%d", c.model(), c.backend(), c.mode().id(), c.batch(), c.seqLen());
        if (!c.ok()) {
            out.printf("%s  %s: %s%n", head, c.status(), c.reason());
            return;
        }
        String check = c.check().matched() == null ? "not checked"
                : (c.check().matched() ? "matched " : "MISMATCH vs ") + c.check().against();
        if (c.decoding() != null) {
            out.printf("%s  median %.3f ms +- %.3f per %d tokens  %.2f tok/s (decode steps %.2f tok/s), time to first "
                    + "token %.1f ms  %s%n", head, c.stats().median(), c.stats().spread(), c.decoding().newTokens(),
                    c.tokensPerSecond(), c.decoding().decodeTokensPerSecond(), c.decoding().ttftMs(), check);
            out.flush();
            return;
        }
        out.printf("%s  median %.3f ms +- %.3f  %,.0f tok/s  %.2f GFLOP/s%s  %s%n", head, c.stats().median(),
                c.stats().spread(), c.tokensPerSecond(), c.gflops(),
                c.peakGflops() != null ? String.format(" (%.1f%% of peak)", 100 * c.peakFraction()) : "", check);
        out.flush();
    }

    private Cell cell(BenchConfig.Model m, Target t, BenchConfig.Mode mode) {
        ModelConfig c = m.config();
        int B = m.batch();
        int T = m.seqLen();
        double flops = switch (mode) {
            case TRAIN -> Flops.trainStep(c, B, T);
            case FORWARD -> Flops.forward(c, B, T);
            case DECODE -> decodeFlops(c);
        };
        String id = t.backend() != null ? t.backend().id() : t.spec();
        String desc = t.backend() != null ? t.backend().description() : "";
        Double peak = peakFor(t);
        if (t.backend() == null) {
            return skipped(m, t, id, mode, flops, peak, t.skipReason());
        }
        if (!t.backend().precisions().contains(cfg.dtype())) {
            return skipped(m, t, id, mode, flops, peak, "does not run dtype " + cfg.dtype());
        }
        double fwdGflop = Flops.forward(c, B, T) / 1e9;
        if (id.equals("reference") && fwdGflop > cfg.referenceMaxGflop()) {
            return skipped(m, t, id, mode, flops, peak, String.format("too slow for the reference (%.1f GFLOP per forward "
                    + "pass > reference_max_gflop %.1f)", fwdGflop, cfg.referenceMaxGflop()));
        }
        if (mode == BenchConfig.Mode.DECODE) {
            return decodeCell(m, t, id, desc, peak);
        }
        // the check's own sessions (the reference, or the reduced pair) run to their end before this backend's
        // session opens, and are collected: two models never share the heap, and memory is measured from here on,
        // so the figures are those of this backend's training, not of its check
        boolean train = mode == BenchConfig.Mode.TRAIN;
        PreparedCheck prepared;
        try {
            prepared = prepareCheck(m, t.backend(), mode);
        } catch (RuntimeException | OutOfMemoryError e) {
            return failed(m, t, id, desc, mode, B, T, flops, peak, false, e);
        }
        System.gc();
        boolean rssPerCell = MemoryStats.resetPeaks();
        Batch data = new SyntheticData(cfg.seed(), 1, B, T, c.vocabSize()).next();
        AdamW opt = AdamW.of(0.0);
        SessionOptions so = new SessionOptions(m.recompute(), false, cfg.dtype());
        // seeded weights are made for this session alone: it keeps them instead of a copy
        try (Session s = t.backend().open(c, m.params(), B, T, m.weights() == null ? so.adoptingInit() : so)) {
            double loss = s.forward(data.inputs(), data.targets());
            float[] logits = train ? s.logits().clone() : s.logits(); // a backend may reuse it in backward
            double gradNorm = Double.NaN;
            if (train) {
                s.backward();
                gradNorm = s.gradNorm();
            }
            CheckResult check = prepared.finish(loss, logits, gradNorm, train);
            if (train) {
                s.step(opt, 1e-4, 1.0);
            }
            for (int i = 1; i < cfg.warmup(); i++) {
                iterate(s, data, mode, opt);
            }
            List<Double> times = new ArrayList<>();
            long start = System.nanoTime();
            int minRepeats = Math.min(3, cfg.repeats());
            for (int i = 0; i < cfg.repeats(); i++) {
                long t0 = System.nanoTime();
                iterate(s, data, mode, opt);
                times.add((System.nanoTime() - t0) / 1e6);
                if (i + 1 >= minRepeats && cfg.maxSecondsPerCell() > 0
                        && (System.nanoTime() - start) / 1e9 > cfg.maxSecondsPerCell()) {
                    break;
                }
            }
            double[] ms = times.stream().mapToDouble(Double::doubleValue).toArray();
            long rss = MemoryStats.peakRssBytes();
            long heapPeak = MemoryStats.heapPeakBytes();
            return new Cell(m.name(), t.spec(), id, desc, mode, B, T, c.parameterCount(), "ok", null, ms, Stats.of(ms),
                    flops, peak, rss, rssPerCell, heapPeak, MemoryStats.liveHeapBytes(), check, null);
        } catch (BadInputException e) {
            throw e;
        } catch (RuntimeException | OutOfMemoryError e) {
            return failed(m, t, id, desc, mode, B, T, flops, peak, rssPerCell, e);
        }
    }

    private Cell failed(BenchConfig.Model m, Target t, String id, String desc, BenchConfig.Mode mode, int B, int T,
            double flops, Double peak, boolean rssPerCell, Throwable e) {
        if (e instanceof BadInputException b) {
            throw b;
        }
        String why = (e instanceof OutOfMemoryError ? "out of memory: " : e.getClass().getSimpleName() + ": ")
                + e.getMessage();
        return new Cell(m.name(), t.spec(), id, desc, mode, B, T, m.config().parameterCount(), "error", why,
                new double[0], Stats.of(new double[0]), flops, peak, MemoryStats.peakRssBytes(), rssPerCell,
                MemoryStats.heapPeakBytes(), -1, null, null);
    }

    /** Matrix products of a decode iteration: the prompt's forward, then one position per new token but the last. */
    private double decodeFlops(ModelConfig c) {
        return Flops.forward(c, 1, cfg.promptLen()) + (cfg.newTokens() - 1) * Flops.forward(c, 1, 1);
    }

    /**
     * A decode cell: an iteration prefills a prompt of prompt_len seeded random ids and generates new_tokens greedy
     * tokens (no end-of-sequence stop) on one decoder; the first iteration is checked: its prefill logits against the
     * check backend's forward of the prompt, eps 1e-3.
     */
    private Cell decodeCell(BenchConfig.Model m, Target t, String id, String desc, Double peak) {
        ModelConfig c = m.config();
        int P = cfg.promptLen();
        int n = cfg.newTokens();
        double flops = decodeFlops(c);
        if ((long) P + n > c.maxSeqLen()) {
            throw new BadInputException(cfg.file() + ": prompt_len " + P + " + new_tokens " + n + " do not fit the "
                    + "max_seq_len " + c.maxSeqLen() + " of model " + m.name());
        }
        if (id.equals("reference") && flops / 1e9 > cfg.referenceMaxGflop()) {
            return skipped(m, t, id, BenchConfig.Mode.DECODE, flops, peak, String.format("too slow for the reference "
                    + "(%.1f GFLOP per iteration > reference_max_gflop %.1f)", flops / 1e9, cfg.referenceMaxGflop()));
        }
        int[] prompt = new SyntheticData(cfg.seed(), 1, 1, P, c.vocabSize()).next().inputs();
        // as for the other modes: the check's session runs and is collected before the decoder opens
        java.util.function.Function<float[], CheckResult> decodeCheck;
        try {
            decodeCheck = prepareDecodeCheck(m, t.backend(), prompt);
        } catch (RuntimeException | OutOfMemoryError e) {
            return failed(m, t, id, desc, BenchConfig.Mode.DECODE, 1, P + n, flops, peak, false, e);
        }
        System.gc();
        boolean rssPerCell = MemoryStats.resetPeaks();
        try (io.resflow.engine.Decoder d = t.backend().openDecoder(c, m.params(), P + n, cfg.dtype())) {
            CheckResult check = decodeCheck.apply(d.prefill(prompt));
            for (int i = 0; i < cfg.warmup(); i++) {
                generate(d, prompt, n);
            }
            List<Double> times = new ArrayList<>();
            List<Double> ttft = new ArrayList<>();
            List<Double> rate = new ArrayList<>();
            long start = System.nanoTime();
            int minRepeats = Math.min(3, cfg.repeats());
            for (int i = 0; i < cfg.repeats(); i++) {
                long t0 = System.nanoTime();
                io.resflow.engine.Generator.Result r = generate(d, prompt, n);
                times.add((System.nanoTime() - t0) / 1e6);
                ttft.add(r.prefillNanos() / 1e6);
                rate.add(r.decodeTokensPerSecond());
                if (i + 1 >= minRepeats && cfg.maxSecondsPerCell() > 0
                        && (System.nanoTime() - start) / 1e9 > cfg.maxSecondsPerCell()) {
                    break;
                }
            }
            double[] ms = times.stream().mapToDouble(Double::doubleValue).toArray();
            Decoding dec = new Decoding(P, n, Stats.of(ttft.stream().mapToDouble(Double::doubleValue).toArray()).median(),
                    Stats.of(rate.stream().mapToDouble(Double::doubleValue).toArray()).median());
            return new Cell(m.name(), t.spec(), id, desc, BenchConfig.Mode.DECODE, 1, P + n, c.parameterCount(), "ok",
                    null, ms, Stats.of(ms), flops, peak, MemoryStats.peakRssBytes(), rssPerCell,
                    MemoryStats.heapPeakBytes(), MemoryStats.liveHeapBytes(), check, dec);
        } catch (BadInputException e) {
            throw e;
        } catch (RuntimeException | OutOfMemoryError e) {
            return failed(m, t, id, desc, BenchConfig.Mode.DECODE, 1, P + n, flops, peak, rssPerCell, e);
        }
    }

    private static io.resflow.engine.Generator.Result generate(io.resflow.engine.Decoder d, int[] prompt, int n) {
        io.resflow.engine.Generator.Result r = io.resflow.engine.Generator.generate(d, prompt, n,
                io.resflow.engine.Sampling.GREEDY, Set.of(), null);
        if (r.generated() != n) {
            throw new IllegalStateException("generated " + r.generated() + " tokens, expected " + n);
        }
        return r;
    }

    /** A decode cell's check, from the decoder's prefill logits; what it compares with is computed here. */
    private java.util.function.Function<float[], CheckResult> prepareDecodeCheck(BenchConfig.Model m, Backend b,
            int[] prompt) {
        if (cfg.check() == BenchConfig.Check.NONE) {
            return first -> new CheckResult("none", null, Double.NaN, Double.NaN, Double.NaN, "check: none");
        }
        if (b.id().equals("reference")) {
            return first -> new CheckResult("reference", true, 0, 0, 0, "is the reference");
        }
        String against = cfg.check() == BenchConfig.Check.JVM && !b.id().equals("jvm") ? "jvm" : "reference";
        int V = m.config().vocabSize();
        int P = prompt.length;
        Batch data = new Batch(prompt, prompt);
        Expected ref = expected(against, m, m::params, 1, P, data, false);
        float[] last = java.util.Arrays.copyOfRange(ref.logits(), (P - 1) * V, P * V);
        return first -> {
            double eps = eps(m);
            Comparison.Row lg = Comparison.tensor("logits", first, last, eps);
            return new CheckResult(against + " (the prompt's last logits after prefill)", lg.ok(), Double.NaN,
                    lg.relL2(), Double.NaN, String.format("prefill logits rel_l2 %.1e (eps %.1e)", lg.relL2(), eps));
        };
    }

    private Cell skipped(BenchConfig.Model m, Target t, String id, BenchConfig.Mode mode, double flops, Double peak,
            String reason) {
        return new Cell(m.name(), t.spec(), id, t.backend() != null ? t.backend().description() : "", mode, m.batch(),
                m.seqLen(), m.config().parameterCount(), "skipped", reason, new double[0], Stats.of(new double[0]),
                flops, peak, -1, false, -1, -1, null, null);
    }

    private static void iterate(Session s, Batch data, BenchConfig.Mode mode, AdamW opt) {
        s.forward(data.inputs(), data.targets());
        if (mode == BenchConfig.Mode.TRAIN) {
            s.backward();
            s.gradNorm();
            s.step(opt, 1e-4, 1.0);
        }
    }

    private Double peakFor(Target t) {
        Map<String, Double> p = cfg.peakGflops();
        if (t.backend() != null && p.containsKey(t.backend().id())) {
            return p.get(t.backend().id());
        }
        if (p.containsKey(t.spec())) {
            return p.get(t.spec());
        }
        int colon = t.spec().indexOf(':');
        return colon > 0 ? p.get(t.spec().substring(0, colon)) : null;
    }

    // ---- checking ----

    /**
     * A cell's check, what can be computed before the cell's own session opens: the verdict itself (none, the
     * reference, or the reduced check, which runs both sides on a small batch), or the figures of the backend the
     * first iteration is compared with.
     */
    private record PreparedCheck(CheckResult verdict, String against, Expected ref, double eps) {
        CheckResult finish(double loss, float[] logits, double gradNorm, boolean train) {
            return verdict != null ? verdict : compare(against, loss, logits, gradNorm, ref, train, eps);
        }
    }

    private PreparedCheck prepareCheck(BenchConfig.Model m, Backend b, BenchConfig.Mode mode) {
        boolean train = mode == BenchConfig.Mode.TRAIN;
        String self = b.id();
        if (cfg.check() == BenchConfig.Check.NONE) {
            return new PreparedCheck(new CheckResult("none", null, Double.NaN, Double.NaN, Double.NaN, "check: none"),
                    null, null, EPS);
        }
        if (self.equals("reference")) {
            return new PreparedCheck(new CheckResult("reference", true, 0, 0, 0, "is the reference"), null, null, EPS);
        }
        BenchConfig.Check how = cfg.check();
        if (how == BenchConfig.Check.AUTO) {
            double fwdGflop = Flops.forward(m.config(), m.batch(), m.seqLen()) / 1e9;
            if (fwdGflop <= cfg.referenceMaxGflop()) {
                how = BenchConfig.Check.REFERENCE;
            } else if (!self.equals("jvm") && available("jvm")) {
                how = BenchConfig.Check.JVM;
            } else {
                how = BenchConfig.Check.REDUCED;
            }
        }
        if (how == BenchConfig.Check.JVM && self.equals("jvm")) {
            how = BenchConfig.Check.REDUCED;
        }
        if (how == BenchConfig.Check.REDUCED) {
            int T = Math.min(m.seqLen(), REDUCED_SEQ);
            Batch small = new SyntheticData(cfg.seed(), 1, 1, T, m.config().vocabSize()).next();
            Params weights = m.params(); // one copy for both sides
            Expected mine = compute(b, m, weights, 1, T, small, train, cfg.dtype());
            Expected ref = expected("reference", m, () -> weights, 1, T, small, train);
            return new PreparedCheck(compare("reference (reduced: batch 1 x seq_len " + T + ")", mine.loss(),
                    mine.logits(), mine.gradNorm(), ref, train, eps(m)), null, null, eps(m));
        }
        String against = how == BenchConfig.Check.JVM ? "jvm" : "reference";
        Batch data = new SyntheticData(cfg.seed(), 1, m.batch(), m.seqLen(), m.config().vocabSize()).next();
        return new PreparedCheck(null, against, expected(against, m, m::params, m.batch(), m.seqLen(), data, train),
                eps(m));
    }

    private static boolean available(String name) {
        return Backends.providers().stream().anyMatch(p -> p.name().equals(name));
    }

    /** The figures of {@code spec} for this model and shape, computed once per model (the weights made only then). */
    private Expected expected(String spec, BenchConfig.Model m, java.util.function.Supplier<Params> weights, int B,
            int T, Batch data, boolean train) {
        String key = spec + "|" + B + "|" + T + "|" + train;
        Expected e = expected.get(key);
        if (e == null) {
            e = compute(Backends.resolve(spec), m, weights.get(), B, T, data, train, cfg.dtype());
            expected.put(key, e);
        }
        return e;
    }

    private static Expected compute(Backend b, BenchConfig.Model m, Params weights, int B, int T, Batch data,
            boolean train, io.resflow.engine.Precision dtype) {
        try (Session s = b.open(m.config(), weights, B, T, new SessionOptions(m.recompute(), false, dtype))) {
            double loss = s.forward(data.inputs(), data.targets());
            float[] logits = s.logits().clone();
            double norm = Double.NaN;
            if (train) {
                s.backward();
                norm = s.gradNorm();
            }
            return new Expected(loss, logits, norm);
        }
    }

    /**
     * The check's eps: 1e-3 in fp32; in bf16 the config's forward budget ({@link io.resflow.check.Bf16Budget}): two
     * bf16 implementations part at rounding boundaries by up to about that much (GPT-2 small's logits, jvm against
     * the reference, both bf16: rel_l2 6.3e-3 with the loss within 1e-5).
     */
    private double eps(BenchConfig.Model m) {
        return cfg.dtype() == io.resflow.engine.Precision.BF16
                ? io.resflow.check.Bf16Budget.of(m.config()).forwardEps() : EPS;
    }

    private static CheckResult compare(String against, double loss, float[] logits, double gradNorm, Expected ref,
            boolean train, double eps) {
        Comparison.Row l = Comparison.scalar("loss", loss, ref.loss(), eps);
        Comparison.Row lg = Comparison.tensor("logits", logits, ref.logits(), eps);
        boolean ok = l.ok() && lg.ok();
        double gnRel = Double.NaN;
        if (train) {
            Comparison.Row g = Comparison.scalar("grad_norm", gradNorm, ref.gradNorm(), eps);
            gnRel = g.relL2();
            ok &= g.ok();
        }
        String note = String.format("loss rel %.1e, logits rel_l2 %.1e%s (eps %.1e)", l.relL2(), lg.relL2(),
                train ? String.format(", grad_norm rel %.1e", gnRel) : "", eps);
        return new CheckResult(against, ok, l.relL2(), lg.relL2(), gnRel, note);
    }
}
