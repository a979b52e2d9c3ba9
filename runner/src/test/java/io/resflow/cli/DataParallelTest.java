package io.resflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.resflow.mpi.MpiRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Data-parallel runs under {@code mpirun --oversubscribe --allow-run-as-root} (issue 15): N = 2 ranks with batch B
 * train like one process with batch 2B on the same data; the parameters are checked bit-identical across ranks every
 * step (and the check fails when one rank is nudged); different configs are refused; resume needs the same N; no
 * launcher, no MPI. Skipped with a printed line when Open MPI is not installed.
 *
 * <p>Tolerance: each rank's loss is a mean over its B*T positions and the ranks' means are averaged, and the
 * gradients are summed in another order (per rank, then across ranks) than in one process: float32 rounding. Four
 * AdamW steps on the tiny models gave relative differences of about 1e-8 on the loss and up to 1e-7 on the gradient
 * norm (reference and jvm); the test allows {@value #LOSS_RTOL} on the loss and {@value #NORM_RTOL} on the norm.
 */
class DataParallelTest {
    static final double LOSS_RTOL = 1e-5;
    static final double NORM_RTOL = 1e-4;

    @TempDir
    Path tmp;

    static final String GPT2 = """
            {"family": "gpt2", "n_layer": 2, "d_model": 32, "n_head": 4, "vocab_size": 256, "max_seq_len": 16}""";
    static final String LLAMA = """
            {"family": "llama", "n_layer": 2, "d_model": 32, "n_head": 4, "n_kv_head": 2, "d_ff": 64, "vocab_size": 256,
             "max_seq_len": 16}""";

    /** A tiny run config on the project's sample text (clipping on, so that the clip path is exercised). */
    Path config(String name, String model, int batch, int steps, String extra) {
        return Cli.write(tmp.resolve(name + ".json"), """
                {"model": %s, "backend": "reference", "batch": %d, "seq_len": 8, "steps": %d, "lr": 3e-3,
                 "lr_schedule": "cosine", "warmup_steps": 1, "grad_clip": 0.5, "seed": 3,
                 "data": {"type": "text_file", "path": "%s"}%s}
                """.formatted(model, batch, steps, Cli.ROOT.resolve("configs/data/sample.txt"),
                extra.isEmpty() ? "" : ", " + extra));
    }

    static List<String> mpirun(int n, Object... args) {
        return MpiRun.command(n, List.of(), Main.class.getName(), args);
    }

    MpiRun.Result launch(List<String> command) throws InterruptedException {
        return MpiRun.run(command, Map.of(), Files.exists(tmp.resolve("log")) ? tmp.resolve("log2") : tmp.resolve("log"), 3);
    }

    static List<JsonNode> metrics(Path dir) {
        return Cli.jsonLines(dir.resolve("metrics.jsonl"));
    }

    static void assertClose(double expected, double actual, double rtol, String what) {
        assertTrue(Math.abs(expected - actual) <= rtol * Math.max(1, Math.abs(expected)),
                () -> what + ": " + actual + " against " + expected + " (rtol " + rtol + ")");
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"reference, gpt2", "reference, llama", "jvm:1, gpt2", "jvm:1, llama"})
    void twoRanksWithBatchBTrainLikeOneProcessWithBatch2B(String backend, String family) throws Exception {
        MpiRun.require();
        String model = family.equals("gpt2") ? GPT2 : LLAMA;
        Path one = tmp.resolve("one");
        Cli.ok("run", config("b4", model, 4, 4, ""), "--out", one, "--backend", backend);
        Path two = tmp.resolve("two");
        MpiRun.Result r = launch(mpirun(2, "run", config("b2", model, 2, 4, ""), "--out", two, "--backend", backend));
        assertEquals(0, r.code(), r.output());
        assertTrue(r.output().contains("batch 2 per process x 2 processes = global batch 4"), r.output());
        assertTrue(r.output().contains("data parallel: 2 processes (Open MPI"), r.output());
        // the automatic interval is announced in the header and chosen, the same on both ranks, after step 1
        assertTrue(r.output().contains("parameter check: the ranks compare a hash of their parameters every k steps, "
                + "k chosen after the first step"), r.output());
        assertEquals(1, r.output().lines().filter(l -> l.startsWith("parameter check every ")).count(), r.output());
        List<JsonNode> a = metrics(one);
        List<JsonNode> b = metrics(two);
        assertEquals(4, b.size(), r.output());
        for (int i = 0; i < a.size(); i++) {
            assertClose(a.get(i).get("loss").asDouble(), b.get(i).get("loss").asDouble(), LOSS_RTOL, "loss, step " + (i + 1));
            assertClose(a.get(i).get("grad_norm").asDouble(), b.get(i).get("grad_norm").asDouble(), NORM_RTOL,
                    "grad_norm, step " + (i + 1));
            assertTrue(b.get(i).has("allreduce_ms"), b.get(i)::toString);
        }
        // one writer: rank 1 wrote nothing of its own (one run folder, one lock, one set of checkpoints)
        assertTrue(Files.exists(two.resolve("checkpoints/ckpt-00000004.safetensors")));
        assertEquals(1, r.output().lines().filter(l -> l.startsWith("done: 4 steps")).count(), r.output());
        JsonNode ckMeta = Cli.json(two.resolve("run.json"));
        assertEquals(2, ckMeta.get("batch").asInt(), "run.json keeps the per-process batch");
    }

    /**
     * The all-reduce in buckets started during the backward gives the bits one blocking all-reduce after it gives, at
     * N = 2: the same loss and gradient norm at every step and the same parameters and AdamW moments at the end
     * (the checkpoints' tensor bytes). Buckets of 250 floats (137 of them for the tiny GPT-2, many per tensor, most
     * started before the backward ends), and one bucket of the default 25 MB (the whole gradient at once); GPT-2 with
     * its tied head, Llama with an untied one (reported first, before the final norm).
     */
    @Test
    void bucketedAllReduceGivesTheBitsOfOneAllReduce() throws Exception {
        MpiRun.require();
        for (String family : List.of("gpt2", "llama")) {
            String model = family.equals("gpt2") ? GPT2 : LLAMA;
            Map<String, Path> runs = new java.util.LinkedHashMap<>();
            for (String mb : family.equals("gpt2") ? List.of("0", "0.001", "25") : List.of("0", "0.001")) {
                Path out = tmp.resolve(family + "-" + mb);
                MpiRun.Result r = launch(mpirun(2, "run", config(family + mb, model, 2, 3,
                        "\"allreduce_bucket_mb\": " + mb), "--out", out, "--backend", "jvm:1"));
                assertEquals(0, r.code(), r.output());
                assertTrue(r.output().contains(mb.equals("0") ? "one blocking MPI_Allreduce after the backward"
                        : "each started with MPI_Iallreduce as soon as the backward has finished its gradients"),
                        r.output());
                runs.put(mb, out);
            }
            Path single = runs.get("0");
            for (var e : runs.entrySet()) {
                String what = family + ", buckets of " + e.getKey() + " MB against one all-reduce";
                List<JsonNode> a = metrics(single);
                List<JsonNode> b = metrics(e.getValue());
                assertEquals(3, b.size(), what);
                for (int i = 0; i < a.size(); i++) {
                    assertEquals(a.get(i).get("loss").asDouble(), b.get(i).get("loss").asDouble(), 0, what);
                    assertEquals(a.get(i).get("grad_norm").asDouble(), b.get(i).get("grad_norm").asDouble(), 0, what);
                }
                assertTrue(java.util.Arrays.equals(tensorBytes(single), tensorBytes(e.getValue())),
                        what + ": the final parameters and AdamW moments differ");
            }
        }
    }

    /** The tensor bytes of a run's last checkpoint (a safetensors file without its JSON header). */
    static byte[] tensorBytes(Path run) throws java.io.IOException {
        byte[] f = Files.readAllBytes(run.resolve("checkpoints/ckpt-00000003.safetensors"));
        long header = java.nio.ByteBuffer.wrap(f, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        return java.util.Arrays.copyOfRange(f, (int) (8 + header), f.length);
    }

    /** The cross-rank check is real: rank 1's parameters nudged by one ulp after step 1 stop every rank, exit 3. */
    @Test
    void parametersThatDifferAcrossRanksStopTheRun() throws Exception {
        MpiRun.require();
        MpiRun.Result r = launch(mpirun(2, "run", config("p", GPT2, 2, 3, "\"param_check_every\": 1"), "--out",
                tmp.resolve("p"), "--test-perturb-rank", "1"));
        assertEquals(3, r.code(), r.output());
        assertTrue(r.output().contains("parameter check: the ranks compare a hash of their parameters every 1 step,"),
                r.output());
        assertTrue(r.output().contains("step 1: the parameters differ across ranks: rank 1 hold"), r.output());
        assertTrue(r.output().contains("rank 0 of 2: runtime failure:"), r.output());
    }

    /**
     * Checked every 3 steps, the divergence made after step 1 goes unseen at step 2 and stops the run at step 3,
     * before anything of step 3 is written: within k steps, never later.
     */
    @Test
    void aDivergenceIsCaughtWithinTheCheckInterval() throws Exception {
        MpiRun.require();
        Path out = tmp.resolve("k3");
        MpiRun.Result r = launch(mpirun(2, "run", config("k3", GPT2, 2, 6, "\"param_check_every\": 3"), "--out", out,
                "--test-perturb-rank", "1"));
        assertEquals(3, r.code(), r.output());
        assertTrue(r.output().contains("every 3 steps, at every checkpoint and after the last step"), r.output());
        assertTrue(r.output().contains("step 3: the parameters differ across ranks: rank 1 hold"), r.output());
        assertFalse(r.output().contains("step 2: the parameters differ"), r.output());
        assertEquals(2, metrics(out).size(), "steps 1 and 2 logged, step 3 stopped before its line: " + r.output());
    }

    /** Two ranks given different configs (MPMD launch) are refused before anything is written, exit 2. */
    @Test
    void differentConfigsOnTwoRanksAreRefused() throws Exception {
        MpiRun.require();
        Path out = tmp.resolve("mixed");
        List<String> a = mpirun(1, "run", config("a", GPT2, 2, 2, ""), "--out", out);
        List<String> b = mpirun(1, "run", config("a2", GPT2, 2, 2, "\"weight_decay\": 0.0"), "--out", out);
        List<String> mpmd = new ArrayList<>(a);
        mpmd.add(":");
        mpmd.addAll(b.subList(b.indexOf("-np"), b.size()));
        MpiRun.Result r = launch(mpmd);
        assertEquals(2, r.code(), r.output());
        assertTrue(r.output().contains("were given different run configs or options: rank 1 differs from rank 0"),
                r.output());
        assertFalse(Files.exists(out.resolve("run.json")), "nothing written");
    }

    /** Resume with the same N continues bit for bit; with another N it is refused naming the N to use. */
    @Test
    void resumeNeedsTheSameNumberOfProcesses() throws Exception {
        MpiRun.require();
        Path cfg = config("r", GPT2, 2, 4, "\"checkpoint_every\": 1");
        Path full = tmp.resolve("full");
        assertEquals(0, launch(mpirun(2, "run", cfg, "--out", full)).code());
        Path part = tmp.resolve("part");
        MpiRun.Result stopped = launch(mpirun(2, "run", cfg, "--out", part, "--stop-after", "2"));
        assertEquals(0, stopped.code(), stopped.output());
        Cli.badInput(Cli.args("run", "--resume", part), "ckpt-00000002.safetensors: written by a run over 2 processes "
                + "(global batch 4), resumed with 1", "resume it with mpirun -np 2");
        MpiRun.Result resumed = MpiRun.run(mpirun(2, "run", "--resume", part), Map.of(), tmp.resolve("log3"), 3);
        assertEquals(0, resumed.code(), resumed.output());
        List<String> x = metrics(full).stream().map(JsonNode::toString).map(DataParallelTest::withoutTimes).toList();
        List<String> y = metrics(part).stream().map(JsonNode::toString).map(DataParallelTest::withoutTimes).toList();
        assertEquals(x, y);
    }

    static String withoutTimes(String line) {
        return line.replaceAll(",\"(step_ms|tokens_per_s|allreduce_ms)\":[0-9.eE+-]+", "");
    }

    /**
     * Without a launcher nothing of MPI is loaded (class loading traced in a child JVM); --mpi on then refuses;
     * mpi off under mpirun -np 2 refuses; under mpirun -np 1 a run gives the same losses bit for bit as without it.
     */
    @Test
    void withoutLauncherNothingChangesAndTheModeIsObeyed() throws Exception {
        Path cfg = config("n", GPT2, 2, 2, "");
        Path log = tmp.resolve("child.log");
        List<String> cmd = new ArrayList<>(Child.command("run", cfg, "--out", tmp.resolve("plain")));
        cmd.add(1, "-verbose:class");
        assertEquals(0, Child.run(cmd, Map.of(), log), Child.read(log));
        String out = Child.read(log);
        assertTrue(out.contains("io.resflow.cli.RunCommand"), "class tracing works");
        assertFalse(out.contains("io.resflow.mpi.Mpi "), "the MPI binding was loaded without a launcher");
        assertFalse(out.contains("data parallel"), out);
        Cli.badInput(Cli.args("run", cfg, "--out", tmp.resolve("on"), "--mpi", "on"), "--mpi is 'on', but no MPI "
                + "launcher started this process", "mpirun -np N");
        Cli.badInput(Cli.args("run", config("bad", GPT2, 2, 2, "\"mpi\": \"sometimes\""), "--out", tmp.resolve("b")),
                "field 'mpi'");

        MpiRun.require();
        MpiRun.Result off = launch(mpirun(2, "run", cfg, "--out", tmp.resolve("off"), "--mpi", "off"));
        assertEquals(2, off.code(), off.output());
        assertTrue(off.output().contains("--mpi is 'off', but an MPI launcher (OMPI_COMM_WORLD_SIZE, 2 processes) "
                + "started 2 processes"), off.output());
        Path one = tmp.resolve("np1");
        MpiRun.Result r = MpiRun.run(mpirun(1, "run", cfg, "--out", one), Map.of(), tmp.resolve("log3"), 3);
        assertEquals(0, r.code(), r.output());
        assertTrue(r.output().contains("data parallel: 1 process (Open MPI"), r.output());
        List<String> x = metrics(tmp.resolve("plain")).stream().map(JsonNode::toString)
                .map(DataParallelTest::withoutTimes).toList();
        List<String> y = metrics(one).stream().map(JsonNode::toString).map(DataParallelTest::withoutTimes).toList();
        assertEquals(x, y);
    }
}
