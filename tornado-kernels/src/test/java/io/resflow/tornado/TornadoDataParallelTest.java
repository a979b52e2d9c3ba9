package io.resflow.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resflow.cli.Main;
import io.resflow.mpi.MpiRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Data-parallel training on the tornado backend (issue 24): {@code mpirun -np 2} ranks on {@code tornado:0:0} with
 * batch B each train like one process with batch 2B on the same device and data. The gradients leave the device for
 * the all-reduce ({@code gradientsTo}) and come back through the {@code grad_upload} graph ({@code gradientsFrom}).
 *
 * <p>It lives here, not in the runner, because this module's test JVM is the one started with TornadoVM's argfile
 * and has this module's fresh classes: every JVM it starts (the one-process run and both ranks) gets this JVM's
 * TornadoVM flags ({@code resflow.tornado.jvm}, set by the pom from {@code tornado.test.jvm}: bailouts as errors,
 * strict device checks) and its class path, the runner included. Strict mode checks every task's device kernel time
 * on every execution, so a kernel that fell back to Java or a launch that failed ends the run with exit 3 and fails
 * the test; the output must also be free of TornadoVM's error and bailout lines. With
 * {@code -Dresflow.tornado.trace=true} every graph execution is printed, which shows the gradients coming back to
 * the device once per step on each rank (and never in the one-process run, whose session has no exchange graph).
 *
 * <p>Tolerance: DataParallelTest's ({@value #LOSS_RTOL} on the loss, {@value #NORM_RTOL} on the gradient norm), for
 * the same reason (per-rank means averaged, gradients summed per rank and then across ranks: float32 rounding). On
 * PoCL three steps gave relative differences of at most 8.8e-8 (GPT-2) and 4.4e-8 (Llama) on the loss, 0 (GPT-2)
 * and 7.8e-8 (Llama) on the gradient norm; each case printed its own.
 */
class TornadoDataParallelTest {
    static final double LOSS_RTOL = 1e-5;
    static final double NORM_RTOL = 1e-4;
    static final int STEPS = 3;
    static final String DEVICE = "tornado:0:0";
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** Skips every case with one printed line when Open MPI is not installed. */
    @BeforeAll
    static void openMpi() {
        MpiRun.require();
    }

    static String model(String family) {
        return switch (family) {
            case "gpt2" -> """
                    {"family": "gpt2", "n_layer": 2, "d_model": 32, "n_head": 4, "vocab_size": 256, "max_seq_len": 16}""";
            case "llama" -> """
                    {"family": "llama", "n_layer": 2, "d_model": 32, "n_head": 4, "n_kv_head": 2, "d_ff": 64,
                     "vocab_size": 256, "max_seq_len": 16}""";
            default -> throw new IllegalArgumentException(family);
        };
    }

    /** DataParallelTest's tiny run on the sample text (clipping on), on the device. */
    Path config(String name, String family, int batch) throws IOException {
        Path f = tmp.resolve(name + ".json");
        Files.writeString(f, """
                {"model": %s, "backend": "%s", "batch": %d, "seq_len": 8, "steps": %d, "lr": 3e-3,
                 "lr_schedule": "cosine", "warmup_steps": 1, "grad_clip": 0.5, "seed": 3,
                 "data": {"type": "text_file", "path": "%s"}}
                """.formatted(model(family), DEVICE, batch, STEPS, ROOT.resolve("configs/data/sample.txt")));
        return f;
    }

    /** This JVM's TornadoVM flags, ParallelGC off again (the argfile selects it, MpiRun SerialGC), the graph trace. */
    static List<String> tornadoJvm() {
        String flags = System.getProperty("resflow.tornado.jvm");
        assertNotNull(flags, "resflow.tornado.jvm is not set: run this test through Maven (tornado-kernels/pom.xml)");
        List<String> out = new ArrayList<>(Arrays.asList(flags.strip().split("\\s+")));
        out.addAll(List.of("-XX:-UseParallelGC", "-Dresflow.tornado.trace=true"));
        return out;
    }

    /** {@code timeout -k 15 150 mpirun ... -np n java <flags> Main args}: a JVM stuck in PoCL ignores SIGTERM. */
    static List<String> mpirun(int n, Object... args) {
        List<String> c = new ArrayList<>(List.of("timeout", "-k", "15", "150"));
        c.addAll(MpiRun.command(n, tornadoJvm(), Main.class.getName(), args));
        return c;
    }

    /** The same JVM command as a rank's, without mpirun. */
    static List<String> oneProcess(Object... args) {
        List<String> c = MpiRun.command(1, tornadoJvm(), Main.class.getName(), args);
        List<String> java = new ArrayList<>(List.of("timeout", "-k", "15", "150"));
        java.addAll(c.subList(c.indexOf("-np") + 2, c.size()));
        return java;
    }

    static List<JsonNode> metrics(Path dir) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("metrics.jsonl"))) {
            out.add(JSON.readTree(line));
        }
        return out;
    }

    static List<String> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).map(p -> dir.relativize(p).toString()).sorted().toList();
        }
    }

    static long count(String output, String fragment) {
        return output.lines().filter(l -> l.contains(fragment)).count();
    }

    /** Exit 0, and none of TornadoVM's error or bailout lines (a failed launch only prints one and carries on). */
    static void assertRanOnTheDevice(MpiRun.Result r, String what) {
        assertEquals(0, r.code(), () -> what + " failed:\n" + r.output());
        List<String> bad = r.output().lines().filter(l -> l.contains("ERROR") || l.contains("[Bailout]")).toList();
        assertTrue(bad.isEmpty(), () -> what + ": TornadoVM printed errors: " + bad + "\n" + r.output());
        assertTrue(r.output().contains("backend " + DEVICE + " (TornadoVM "), r::output);
        assertTrue(count(r.output(), "[resflow-tornado] execute ") > 0, () -> "no graph trace:\n" + r.output());
    }

    static double rel(double expected, double actual) {
        return Math.abs(expected - actual) / Math.max(1, Math.abs(expected));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gpt2", "llama"})
    void twoRanksWithBatchBOnTheDeviceTrainLikeOneProcessWithBatch2B(String family) throws Exception {
        long t0 = System.nanoTime();
        Path one = tmp.resolve("one");
        MpiRun.Result single = MpiRun.run(oneProcess("run", config("b4", family, 4), "--out", one), Map.of(),
                tmp.resolve("one.log"), 3);
        assertRanOnTheDevice(single, "one process, batch 4");
        long t1 = System.nanoTime();
        Path two = tmp.resolve("two");
        MpiRun.Result r = MpiRun.run(mpirun(2, "run", config("b2", family, 2), "--out", two), Map.of(),
                tmp.resolve("two.log"), 3);
        long t2 = System.nanoTime();
        assertRanOnTheDevice(r, "mpirun -np 2, batch 2");
        String out = r.output();
        assertTrue(out.contains("batch 2 per process x 2 processes = global batch 4"), out);
        assertTrue(out.contains("data parallel: 2 processes (Open MPI"), out);

        // the gradient exchange went through the device: the runner's line, and the upload graph once per rank and step
        Matcher floats = Pattern.compile("the flat gradient \\(([\\d,]+) floats").matcher(out);
        assertTrue(floats.find(), out);
        long bytes = 4 * Long.parseLong(floats.group(1).replace(",", ""));
        assertTrue(out.contains(String.format("gradients leave the device for the all-reduce and come back: %,d bytes "
                + "device to host and %,d bytes host to device per step", bytes, bytes)), out);
        assertEquals(2 * STEPS, count(out, "[resflow-tornado] execute grad_upload"), out);
        assertEquals(0, count(single.output(), "execute grad_upload"), single.output());

        List<JsonNode> a = metrics(one);
        List<JsonNode> b = metrics(two);
        assertEquals(STEPS, a.size(), single.output());
        assertEquals(STEPS, b.size(), out);
        double lossDiff = 0;
        double normDiff = 0;
        for (int i = 0; i < STEPS; i++) {
            double la = a.get(i).get("loss").asDouble();
            double lb = b.get(i).get("loss").asDouble();
            double na = a.get(i).get("grad_norm").asDouble();
            double nb = b.get(i).get("grad_norm").asDouble();
            String step = " step " + (i + 1) + ": ";
            assertTrue(rel(la, lb) <= LOSS_RTOL, "loss" + step + lb + " against " + la + " (rtol " + LOSS_RTOL + ")");
            assertTrue(rel(na, nb) <= NORM_RTOL, "grad_norm" + step + nb + " against " + na + " (rtol " + NORM_RTOL + ")");
            assertTrue(b.get(i).has("allreduce_ms"), b.get(i)::toString);
            lossDiff = Math.max(lossDiff, rel(la, lb));
            normDiff = Math.max(normDiff, rel(na, nb));
        }

        // only rank 0 writes: the same files as the one-process run, one summary
        assertEquals(files(one), files(two), out);
        List<String> written = files(two);
        assertTrue(written.contains("checkpoints/ckpt-%08d.safetensors".formatted(STEPS)), written::toString);
        assertEquals(1, count(out, "done: " + STEPS + " steps"), out);
        assertEquals(1, count(out, "wrote " + two), out);
        assertEquals(2, JSON.readTree(two.resolve("run.json").toFile()).get("batch").asInt());
        System.out.printf(Locale.ROOT, "tornado data parallel %s on %s: N=2 x B=2 against 1 x B=4, %d steps: max "
                + "relative difference loss %.2e, grad_norm %.2e; wall %.1f s (one process %.1f s, mpirun %.1f s)%n",
                family, DEVICE, STEPS, lossDiff, normDiff, (t2 - t0) / 1e9, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
    }
}
