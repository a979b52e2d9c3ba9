package io.resflow.cli;

import io.resflow.cli.options.ResflowCommand;
import io.resflow.cli.options.OutOptions;
import io.resflow.cli.options.BackendOption;
import io.resflow.bench.MemoryStats;
import io.resflow.data.DataSource;
import io.resflow.data.Shard;
import io.resflow.train.Progress;
import io.resflow.train.Trainer;

import io.resflow.cli.options.OptionTypes;
import io.resflow.out.Json;
import io.resflow.out.OutDir;
import io.resflow.parallel.DataParallel;
import io.resflow.train.Checkpoints;
import io.resflow.train.MetricsLog;
import io.resflow.train.RunConfig;

import io.resflow.engine.Backend;
import io.resflow.engine.Backends;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.safetensors.SafeTensorsWriter;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code resflow run CONFIG}: train (or run forward passes of) a model as a run config describes. */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Train a model (or run forward passes) as a run config describes; resume a run.",
        description = {"""
                Trains the run config's model (task train) or runs forward passes (task forward) on its data, with \
                a progress bar (plain lines when not on a terminal). Writes run.json (the resolved config, with \
                the data file's SHA-256), metrics.jsonl (one JSON line per step: step, loss, grad_norm, lr, \
                step_ms, tokens_per_s) and checkpoints/ckpt-<step>.safetensors (each with a .sum file: size and \
                CRC32C) every checkpoint_every steps and at the end. One process writes into a folder at a time.""", """
                --resume DIR continues a run from its newest checkpoint that verifies (naming any newer one it \
                skips); on the same backend, device and thread count the losses are bit-for-bit those of an \
                uninterrupted run. --restart DIR starts the run in DIR over from step 0.""", """
                Exit 0 done, 2 bad input, 3 runtime failure (NaN/Inf in the loss or gradients, a write that \
                failed: the last good checkpoint stays)."""})
final class RunCommand extends ResflowCommand {
    /** What run writes into its folder. */
    static final OutDir.Outputs OUTPUTS = new OutDir.Outputs("run", "run.json", MetricsLog.FILE, Checkpoints.DIR,
            "forward.safetensors");
    /** What --restart replaces (run.json is written again). */
    private static final OutDir.Outputs RESTARTED = new OutDir.Outputs("run", MetricsLog.FILE, Checkpoints.DIR,
            "forward.safetensors");

    @Parameters(paramLabel = "CONFIG", arity = "0..1",
            description = "Run config (JSON), e.g. configs/gpt2-tiny.json; omitted with --resume and --restart.")
    Path config;

    @Mixin
    BackendOption.OverConfig backend;

    @Mixin
    io.resflow.cli.options.DtypeOption dtype;

    @Mixin
    OutOptions.Folder output;

    @Option(names = "--resume", paramLabel = "DIR", description = "Continue the run in DIR (an earlier --out) from its "
            + "newest checkpoint that verifies (a data file that changed since the run began also needs --force).")
    Path resume;

    @Option(names = "--restart", paramLabel = "DIR", description = "Start the run in DIR over from step 0 with its "
            + "run.json (replaces its metrics.jsonl and checkpoints; a run that has checkpoints also needs --force).")
    Path restart;

    @Option(names = "--steps", paramLabel = "N", converter = OptionTypes.NonNegativeInt.class,
            description = "Overrides the config's number of steps (with --resume: extends the run).")
    Integer steps;

    @Option(names = "--stop-after", paramLabel = "N", converter = OptionTypes.PositiveInt.class,
            description = "Stop after step N with a checkpoint; the learning rate schedule still spans the config's "
                    + "steps (continue later with --resume).")
    Integer stopAfter;

    /** Test hook: sleep after each step so that a test can kill the process between checkpoints. */
    @Option(names = "--throttle-ms", hidden = true, converter = OptionTypes.NonNegativeInt.class)
    int throttleMs;

    /** Test hook: nudge this rank's parameters after the first step, so that the cross-rank check must fail. */
    @Option(names = "--test-perturb-rank", hidden = true)
    int testPerturbRank = -1;

    private enum Mode {
        NEW, RESUME, RESTART
    }

    @Option(names = "--mpi", paramLabel = "MODE", description = "Data parallelism over MPI: auto (when an MPI "
            + "launcher such as mpirun started the process), on (required), off (one process only); overrides the "
            + "config's mpi field.")
    String mpiOption;

    @Override
    protected int run(PrintWriter pw0) throws InterruptedException {
        if (resume != null || restart != null) {
            if (config != null || output.out() != null || (resume != null && restart != null)) {
                throw new BadInputException((resume != null ? "--resume " + resume : "--restart " + restart)
                        + ": give either CONFIG (a new run), --resume DIR or --restart DIR; a resumed or restarted run "
                        + "keeps its folder (no --out)");
            }
            Path dir = resume != null ? resume : restart;
            Path saved = dir.resolve("run.json");
            if (!Files.isDirectory(dir) || !Files.isRegularFile(saved)) {
                throw new BadInputException((resume != null ? "--resume " : "--restart ") + dir
                        + ": not a run folder (no run.json)");
            }
        } else if (config == null) {
            throw new BadInputException("run: missing CONFIG (a run config such as configs/gpt2-tiny.json), "
                    + "--resume DIR or --restart DIR");
        }
        RunConfig rc = RunConfig.load(resume != null ? resume.resolve("run.json")
                : restart != null ? restart.resolve("run.json") : config);
        DataParallel.Mode mode = DataParallel.Mode.parse(mpiOption != null ? mpiOption : rc.mpi(),
                mpiOption != null ? "--mpi" : rc.file() + ": field 'mpi'");
        DataParallel dp = DataParallel.start(mode, io.resflow.mpi.Launch.detect(System.getenv()),
                mpiOption != null ? "--mpi" : rc.file() + ": field 'mpi'");
        if (!dp.mpi()) {
            return body(pw0, dp, rc);
        }
        PrintWriter pw = dp.writer() ? pw0 : new PrintWriter(java.io.Writer.nullWriter());
        PrintWriter err = spec.commandLine().getErr();
        int code;
        try {
            dp.requireSameConfig(Json.line(rc.toJson()) + "|" + String.join(" ", spec.commandLine().getParseResult()
                    .originalArgs()), rc.file().toString());
            code = body(pw, dp, rc);
        } catch (DataParallel.Collective c) {
            // every rank failed here: each says why and ends MPI with the others
            Main.Failure f = Main.describe(c.failure, debug());
            err.println("rank " + dp.rank() + " of " + dp.size() + ": " + f.line());
            err.flush();
            dp.finish(f.code());
            return f.code();
        } catch (RuntimeException e) {
            // this rank alone: the others wait in a collective, so the job is aborted with this rank's code
            Main.Failure f = Main.describe(e, debug());
            err.println("rank " + dp.rank() + " of " + dp.size() + ": " + f.line() + " (aborting the job)");
            err.flush();
            pw0.flush();
            dp.abort(f.code());
            return f.code();
        }
        dp.finish(code);
        return code;
    }

    private boolean debug() {
        return spec.commandLine().getParseResult().originalArgs().contains("--debug");
    }

    private int body(PrintWriter pw, DataParallel dp, RunConfig rc) throws InterruptedException {
        if (resume != null || restart != null) {
            Mode mode = resume != null ? Mode.RESUME : Mode.RESTART;
            String opt = mode == Mode.RESUME ? "--resume" : "--restart";
            Path dir = resume != null ? resume : restart;
            OutDir claimed = dp.agree(() -> dp.writer() ? OutDir.claimExisting(dir, opt, OUTPUTS, pw) : null);
            try (OutDir od = claimed) {
                Checkpoints.Checkpoint ck = dp.agree(() -> {
                    if (mode == Mode.RESUME) {
                        Checkpoints.Selection sel = Checkpoints.selectForResume(dir,
                                "start it over from step 0 with: resflow run --restart " + dir);
                        for (String skip : sel.skipped()) {
                            pw.println("skipped " + skip);
                        }
                        Checkpoints.Checkpoint c = Checkpoints.load(sel.file(), rc.model().config());
                        int was = Integer.parseInt(c.metadata().getOrDefault("processes", "1"));
                        if (was != dp.size()) {
                            throw new BadInputException(c.file() + ": written by a run over " + was + " process"
                                    + (was == 1 ? "" : "es") + " (global batch " + was * rc.batch() + "), resumed with "
                                    + dp.size() + ": the global batch and each rank's share of the data would change; "
                                    + (was == 1 ? "resume it without mpirun (or with mpirun -np 1)"
                                            : "resume it with mpirun -np " + was));
                        }
                        return c;
                    }
                    Path newest = Checkpoints.newest(dir);
                    if (newest != null && !output.force()) {
                        throw new BadInputException("--restart " + dir + ": the run has checkpoints (newest: "
                                + Checkpoints.DIR + "/" + newest.getFileName() + "); continue it with --resume " + dir
                                + ", or add --force to discard them and start over from step 0");
                    }
                    return null;
                });
                return execute(pw, dp, mode, rc, od, dir, ck);
            }
        }
        if (dp.writer()) {
            Path out = output.out();
            dp.agree(() -> {
                if (out != null && Files.isRegularFile(out.resolve("run.json")) && !output.force()) {
                    throw new BadInputException("--out " + out + ": already holds a run (run.json); continue it with "
                            + "--resume " + out + ", start it over with --restart " + out + ", or replace it with --force");
                }
                output.precheck(OUTPUTS);
                return null;
            });
        } else {
            dp.agree(() -> null);
        }
        return execute(pw, dp, Mode.NEW, rc, null, output.out(), null);
    }

    /**
     * Checks the data, opens the session, and only then (a new run) claims the folder and writes run.json: bad input
     * found on the way leaves nothing behind.
     */
    /** What every rank opens before training: the backend, its share of the data, the session. */
    private record Opened(RunConfig rc, Backend backend, DataSource data, boolean hashChanged, Session session) {
    }

    private int execute(PrintWriter pw, DataParallel dp, Mode mode, RunConfig rc0, OutDir claimed, Path given,
            Checkpoints.Checkpoint ck) throws InterruptedException {
        Opened o = dp.agree(() -> {
            RunConfig rc = rc0;
            if (steps != null) {
                rc = rc.withSteps(steps);
            }
            if (dp.distributed() && rc.task() == RunConfig.Task.FORWARD) {
                throw new BadInputException(rc.file() + ": field 'task': forward runs in one process; data-parallel "
                        + "runs (mpirun -np " + dp.size() + ") train");
            }
            if (dtype.given()) {
                io.resflow.engine.Precision p = dtype.precision();
                if (mode == Mode.RESUME && p != rc.dtype()) {
                    throw new BadInputException("--dtype " + p + ": the run being resumed trains in " + rc.dtype()
                            + " (its run.json); resume it in " + rc.dtype() + ", or --restart it in " + p);
                }
                rc = rc.withDtype(p);
            }
            String spec0 = backend.or(ck != null ? ck.metadata().getOrDefault("backend", rc.backend()) : rc.backend());
            Backend b = Backends.resolve(spec0);
            b.requirePrecision(rc.dtype());
            if (dp.distributed()) {
                io.resflow.model.Sizes.checkBatch(rc.model().config(), io.resflow.model.Sizes.Dim.field("batch",
                        (long) rc.batch() * dp.size()), io.resflow.model.Sizes.Dim.field("seq_len", rc.seqLen()));
            }
            DataSource global = rc.openData(rc.batch() * dp.size());
            DataSource data = dp.distributed() ? new Shard(global, dp.rank(), rc.batch(), rc.seqLen()) : global;
            boolean hashChanged = checkData(pw, mode, rc, data);
            if (data.sha256() != null) {
                rc = rc.withData(rc.data().withSha256(data.sha256()));
            }
            return new Opened(rc, b, data, hashChanged, null);
        });
        RunConfig rc = o.rc();
        Backend b = o.backend();
        DataSource data = o.data();
        ModelConfig c = rc.model().config();
        // a resumed run starts from its checkpoint: a fine-tuning run's source weights are not read again
        Session session = dp.agree(() -> b.open(c, ck != null ? ck.params() : rc.model().params(), rc.batch(),
                rc.seqLen(), new SessionOptions(rc.recompute(), dp.distributed(), rc.dtype())));
        try (Session s = session;
                OutDir od = dp.agree(() -> claimed != null || !dp.writer() ? null
                        : OutDir.claimNew(given, "--out", rc.name(), output.force(), OUTPUTS, pw))) {
            Path dir = claimed != null ? claimed.path() : od != null ? od.path() : given;
            if (dp.writer()) {
                if (mode == Mode.RESTART) {
                    List<String> removed = claimed.removeOutputs(RESTARTED);
                    if (!removed.isEmpty()) {
                        pw.println("restart: removed " + String.join(", ", removed) + " from " + dir);
                    }
                }
                if (mode != Mode.RESUME || steps != null || o.hashChanged() || rc0.data().sha256() == null) {
                    Json.write(dir.resolve("run.json"), rc.toJson());
                }
            }
            pw.printf("model %s: %s, %d layers, d_model %d, %d heads (%d kv), vocab %d, residual %s, %,d parameters; weights: %s%n",
                    rc.name(), c.family().name().toLowerCase(), c.nLayer(), c.dModel(), c.nHead(), c.nKvHead(),
                    c.vocabSize(), c.residual().id(), c.parameterCount(), ck != null ? ck.file().toString()
                            : rc.model().weightsFrom() + (rc.model().pretrained() && rc.task() == RunConfig.Task.TRAIN
                                    ? " (fine-tuning from these weights with a fresh optimizer; init_seed unused)" : ""));
            pw.printf("backend %s (%s), dtype %s%n", b.id(), b.description(), rc.dtype());
            String batchText = dp.distributed()
                    ? String.format("batch %d per process x %d processes = global batch %d", rc.batch(), dp.size(),
                            rc.batch() * dp.size())
                    : "batch " + rc.batch();
            pw.printf("task %s: %s x seq_len %d, %d steps, %s, weight_decay %g%s, seed %d%n", rc.task().id(),
                    batchText, rc.seqLen(), rc.steps(), rc.schedule().describe(), rc.weightDecay(),
                    rc.gradClip() > 0 ? ", grad_clip " + rc.gradClip() : "", rc.seed());
            if (dp.mpi()) {
                dp.bucketFloats(rc.bucketFloats());
                long floats = s.grads().totalSize();
                pw.printf("data parallel: %s; each rank trains on its share of every global batch; the flat gradient "
                        + "(%,d floats, %.1f MiB) is all-reduced and averaged every step, %s; only rank 0 writes%n",
                        dp.describe(), floats, 4.0 * floats / 1048576.0, dp.reduceRule(floats));
            }
            pw.println("data " + data.describe());
            pw.println("output " + dir);

            if (rc.task() == RunConfig.Task.FORWARD) {
                return forward(pw, rc, s, data, dir);
            }
            int from = 0;
            if (ck != null) {
                s.restore(ck.params(), ck.optimizer());
                data.seek(ck.dataPosition());
                from = ck.step();
                if (dp.writer()) {
                    MetricsLog.truncateAfter(dir, from);
                }
                String was = ck.metadata().get("backend_description");
                if (!b.id().equals(ck.metadata().get("backend")) || (was != null && !was.equals(b.description()))) {
                    pw.println("note: the checkpoint was written on " + ck.metadata().get("backend") + " (" + was
                            + "); on another backend, device or thread count the losses may differ in the last bits");
                }
                pw.printf("resuming from %s: step %d, data position %d%n", ck.file(), from, ck.dataPosition());
            }
            if (from >= rc.steps()) {
                pw.printf("nothing to do: the run is at step %d of %d (use --steps to extend it)%n", from, rc.steps());
                return Main.OK;
            }
            return train(pw, dp, rc, b, s, data, dir, from);
        }
    }

    /**
     * A data file whose content hash differs from the one the run (or the config) recorded is refused unless
     * {@code --force}. Returns whether it differed (and was forced).
     */
    private boolean checkData(PrintWriter pw, Mode mode, RunConfig rc, DataSource data) {
        String expected = rc.data().sha256();
        String actual = data.sha256();
        if (mode == Mode.RESTART || expected == null || actual == null || expected.equals(actual)) {
            return false;
        }
        String what = rc.data().file() + " changed since " + (mode == Mode.RESUME ? "the run began" : "its hash was recorded")
                + " (sha256 " + expected.substring(0, 12) + "... then, " + actual.substring(0, 12) + "... now)";
        if (!output.force()) {
            throw new BadInputException(rc.file() + ": field 'data.sha256': " + what + (mode == Mode.RESUME
                    ? "; resuming would train on other tokens: restore the file, or add --force to resume on the changed data"
                    : "; give the file with that content, or add --force to use it as it is"));
        }
        pw.println("note: --force: " + what + "; continuing on the changed data (run.json records the new sha256)");
        return true;
    }

    private int train(PrintWriter pw, DataParallel dp, RunConfig rc, Backend b, Session s, DataSource data, Path dir,
            int from) throws InterruptedException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("backend", b.id());
        meta.put("backend_description", b.description());
        meta.put("run_config", Json.line(rc.toJson()));
        meta.put("writer", "resflow 0.1.0");
        if (dp.distributed()) {
            meta.putAll(DataParallel.checkpointMetadata(dp, rc.batch()));
        }
        int to = stopAfter != null ? Math.min(stopAfter, rc.steps()) : rc.steps();
        List<Double> losses = new ArrayList<>();
        Path[] lastCkpt = {dir != null && dp.writer() ? lastGood(dir) : null};
        int[] lastCkptStep = {from};
        boolean[] interrupted = {false};
        dp.watchPeers(() -> lastCkpt[0] != null ? lastCkpt[0].toString()
                : !dp.writer() && lastCkptStep[0] > 0 ? "rank 0's checkpoint of step " + lastCkptStep[0] : null);
        dp.checkEvery(rc.paramCheckEvery());
        dp.requireSameParameters(s, from == 0 ? "at start" : "after resuming at step " + from);
        dp.testPerturbRank = testPerturbRank;
        if (dp.distributed()) {
            pw.println("parameter check: the ranks compare a hash of their parameters " + dp.checkRule()
                    + ", at every checkpoint and after the last step");
            pw.println("peer watch: " + dp.watchRule());
        }
        try (MetricsLog log = dp.writer() ? MetricsLog.append(dir) : null;
                Progress progress = Progress.create(pw, Main.stdoutIsTerminal && dp.writer(), rc.name(), from, to)) {
            new Trainer(rc, s, data, dp).train(from, to, st -> {
                if (log != null) {
                    log.write(st, true);
                }
                losses.add(st.loss());
                progress.update(st);
                if (st.note() != null && dp.writer()) {
                    progress.note(st.note());
                }
                if (rc.checkpointAfter(st.step(), to)) {
                    if (dp.writer()) {
                        lastCkpt[0] = Checkpoints.save(dir, st.step(), s, data.position(), meta, rc.keepCheckpoints());
                        progress.checkpoint(st.step(), lastCkpt[0]);
                    }
                    lastCkptStep[0] = st.step();
                }
                if (throttleMs > 0) {
                    try {
                        Thread.sleep(throttleMs);
                    } catch (InterruptedException e) {
                        interrupted[0] = true;
                        Thread.currentThread().interrupt();
                    }
                }
            });
        } catch (io.resflow.model.RuntimeFailure | DataParallel.Collective e) {
            Path last = dir != null && dp.writer() ? lastGood(dir) : lastCkpt[0];
            String where = last != null ? "last good checkpoint: " + last : !dp.writer() && lastCkptStep[0] > 0
                    ? "last good checkpoint: rank 0's of step " + lastCkptStep[0] : "no checkpoint was written";
            var f = new io.resflow.model.RuntimeFailure(e.getMessage() + "; training stopped, " + where, e);
            throw e instanceof DataParallel.Collective ? new DataParallel.Collective(f) : f;
        }
        if (interrupted[0]) {
            throw new InterruptedException();
        }
        pw.printf("%s: %d steps, loss %.6f -> %.6f%n", to < rc.steps() ? "stopped after step " + to + " of "
                + rc.steps() + " (continue with --resume " + dir + ")" : "done", losses.size(), losses.get(0), losses.get(losses.size() - 1));
        if (dp.writer()) {
            pw.printf("wrote %s: run.json, %s, %s/%s (latest)%n", dir, MetricsLog.FILE, Checkpoints.DIR,
                    lastCkpt[0].getFileName());
        }
        if (dp.distributed()) {
            long[] early = dp.bucketsEarly(losses.size());
            pw.printf("all-reduce: %.1f ms per step on average on the training thread (gradient copies included%s), "
                    + "%,d bytes per rank per step; parameter check %.1f ms per step (%d checks)%n",
                    dp.reduceMsTotal() / losses.size(), early[1] == 0 ? "" : String.format(Locale.ROOT,
                            "; %d of %d buckets done before their backward ended", early[0], early[1]),
                    dp.gradientBytes(s), dp.hashMsTotal() / losses.size(), dp.checks());
            if (!s.deviceBytes().isEmpty()) {
                pw.printf("gradients leave the device for the all-reduce and come back: %,d bytes device to host and "
                        + "%,d bytes host to device per step%n", dp.gradientBytes(s), dp.gradientBytes(s));
            }
        }
        long act = s.activationBytes();
        pw.printf("memory: peak RSS %.0f MiB, JVM heap peak %.0f MiB%s%n", MemoryStats.peakRssBytes() / 1048576.0,
                MemoryStats.heapPeakBytes() / 1048576.0, act < 0 ? ""
                        : String.format(", activations %.1f MiB (recompute %s)", act / 1048576.0, rc.recompute() ? "on" : "off"));
        Map<String, Long> device = s.deviceBytes();
        if (!device.isEmpty()) {
            pw.println(deviceLine(device));
        }
        return Main.OK;
    }

    /** {@code device memory: parameters 24.5 MiB, ..., activations 41.6 MiB; total 139.6 MiB}. */
    static String deviceLine(Map<String, Long> bytes) {
        java.util.StringJoiner parts = new java.util.StringJoiner(", ", "device memory: ", "");
        long total = 0;
        for (var e : bytes.entrySet()) {
            parts.add(String.format("%s %.1f MiB", e.getKey(), e.getValue() / 1048576.0));
            total += e.getValue();
        }
        return parts + String.format("; total %.1f MiB", total / 1048576.0);
    }

    private static Path lastGood(Path dir) {
        return Checkpoints.newest(dir);
    }

    private int forward(PrintWriter pw, RunConfig rc, Session s, DataSource data, Path dir) {
        int count = Math.max(1, rc.steps());
        ModelConfig c = rc.model().config();
        double[] sum = {0};
        double[] lastLoss = {0};
        try (MetricsLog log = MetricsLog.append(dir);
                Progress progress = Progress.create(pw, Main.stdoutIsTerminal, rc.name() + " forward", 0, count)) {
            new Trainer(rc, s, data).forward(count, st -> {
                log.write(st, false);
                sum[0] += st.loss();
                lastLoss[0] = st.loss();
                progress.update(st);
            }, last -> {
                int B = rc.batch();
                int T = rc.seqLen();
                List<SafeTensorsWriter.Entry> entries = new ArrayList<>();
                entries.add(new SafeTensorsWriter.I32("inputs", new int[] {B, T}, last.inputs()));
                entries.add(new SafeTensorsWriter.I32("targets", new int[] {B, T}, last.targets()));
                entries.add(new SafeTensorsWriter.F64("loss", new int[] {1}, new double[] {lastLoss[0]}));
                long n = (long) B * T * c.vocabSize();
                if (n <= (64L << 20)) {
                    entries.add(new SafeTensorsWriter.F32("logits", new int[] {B, T, c.vocabSize()}, s.logits()));
                } else {
                    pw.println("note: logits not saved (" + n + " values)");
                }
                SafeTensorsWriter.writeEntries(dir.resolve("forward.safetensors"), entries, Map.of("backend", rc.backend()));
            });
        }
        pw.printf("done: %d batch%s, mean loss %.6f%n", count, count == 1 ? "" : "es", sum[0] / count);
        pw.printf("wrote %s: run.json, %s, forward.safetensors (inputs, targets, logits and loss of the last batch)%n",
                dir, MetricsLog.FILE);
        return Main.OK;
    }
}
