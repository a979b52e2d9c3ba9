package io.resflow.cli;

import io.resflow.data.TokenFiles;
import io.resflow.train.Checkpoints;

import static io.resflow.cli.Cli.args;
import static io.resflow.cli.Cli.badInput;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.resflow.safetensors.SafeTensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code resflow run}: training, metrics, checkpoints, resume (also after a real kill), NaN handling, bad input. */
class RunCommandTest {
    @TempDir
    Path tmp;

    /** Bytes of text for the data: 16 tokens per batch, so the stream wraps around every few steps. */
    private Path text() {
        return Cli.write(tmp.resolve("corpus.txt"), "The residual stream carries every layer's input to its output. "
                + "Résumé: the same bytes, the same losses.\n");
    }

    /** Cosine schedule with warm-up, clipping and text data: everything a resume must restore. */
    private Path config(int steps, int every) {
        text();
        return Cli.tinyRunConfig(tmp, """
                "lr_schedule": "cosine", "warmup_steps": 2, "min_lr": 1e-4, "grad_clip": 0.5, "weight_decay": 0.1,
                "checkpoint_every": %d, "keep_checkpoints": 2, "data": {"type": "text_file", "path": "corpus.txt"}
                """.formatted(every), steps);
    }

    private static List<String> lossesAndNorms(Path runDir) {
        return Cli.jsonLines(runDir.resolve("metrics.jsonl")).stream()
                .map(n -> n.get("step").asText() + " " + n.get("loss").asText() + " " + n.get("grad_norm").asText()
                        + " " + n.get("lr").asText())
                .toList();
    }

    /**
     * The last lines report memory: the activations (with the recompute setting) on the memory line, and for a backend
     * that holds its tensors on a device, one line with those bytes by kind and their total.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void reportsActivationAndDeviceBytes(boolean recompute) {
        Path config = Cli.write(tmp.resolve("mem.json"), Cli.tinyRun("\"recompute\": " + recompute));
        Cli.Result r = Cli.ok("run", config, "--backend", "fake:opaque", "--steps", "1", "--out", tmp.resolve("run"));
        String flag = recompute ? "on" : "off";
        assertTrue(r.out().matches("(?s).*\nmemory: peak RSS \\d+ MiB, JVM heap peak \\d+ MiB, activations [0-9.]+ MiB "
                + "\\(recompute " + flag + "\\)\n.*"), r::toString);
        // 2 layers, d_model 32, vocab 256: 34,176 parameters, 0.13 MiB as float32
        assertTrue(r.out().matches("(?s).*\ndevice memory: parameters 0\\.1 MiB, gradients 0\\.1 MiB, optimizer state "
                + "0\\.3 MiB, activations [0-9.]+ MiB; total [0-9.]+ MiB\n.*"), r::toString);
        Cli.Result ref = Cli.ok("run", config, "--steps", "1", "--out", tmp.resolve("ref"));
        assertFalse(ref.out().contains("device memory"), "the reference holds nothing on a device: " + ref);
    }

    @Test
    void trainsAndWritesMetricsAndCheckpoints() throws IOException {
        Path out = tmp.resolve("run");
        Cli.Result r = Cli.ok("run", config(6, 2), "--out", out);
        assertTrue(r.out().contains("wrote " + out), r::toString);
        List<JsonNode> m = Cli.jsonLines(out.resolve("metrics.jsonl"));
        assertEquals(6, m.size());
        for (int i = 0; i < 6; i++) {
            JsonNode n = m.get(i);
            assertEquals(i + 1, n.get("step").asInt());
            for (String f : List.of("loss", "grad_norm", "lr", "step_ms", "tokens_per_s")) {
                assertTrue(n.has(f), "metrics line lacks " + f + ": " + n);
            }
        }
        assertTrue(m.get(5).get("loss").asDouble() < m.get(0).get("loss").asDouble(), "loss should fall");
        assertEquals(3e-3 / 2, m.get(0).get("lr").asDouble(), 1e-12, "warm-up");
        assertEquals(1e-4, m.get(5).get("lr").asDouble(), 1e-12, "cosine ends at min_lr");
        // checkpoints every 2 steps, the newest 2 kept, 'latest' names the last
        Path ck = out.resolve("checkpoints");
        assertEquals("ckpt-00000006.safetensors", Files.readString(ck.resolve("latest")).strip());
        assertTrue(Files.exists(ck.resolve("ckpt-00000004.safetensors")));
        assertFalse(Files.exists(ck.resolve("ckpt-00000002.safetensors")));
        try (SafeTensorsFile f = SafeTensorsFile.open(ck.resolve("ckpt-00000006.safetensors"))) {
            assertEquals("6", f.metadata().get("step"));
            assertTrue(f.has("wte") && f.has("m.wte") && f.has("v.h.1.fc.w"));
            assertEquals("reference", f.metadata().get("backend"));
        }
        assertTrue(Files.exists(out.resolve("run.json")));
        // a second run into the same folder is refused
        badInput(args("run", config(6, 2), "--out", out), "already holds a run", "--resume");
    }

    @ParameterizedTest
    @ValueSource(strings = {"reference", "jvm"})
    void resumeGivesTheLossesOfAnUninterruptedRun(String backend) {
        Path full = tmp.resolve("full");
        Cli.ok("run", config(7, 3), "--out", full, "--backend", backend);
        Path part = tmp.resolve("part");
        // checkpoints at 3 and 4; the resumed run keeps the backend that wrote them
        Cli.Result r = Cli.ok("run", config(7, 3), "--out", part, "--stop-after", "4", "--backend", backend);
        assertTrue(r.out().contains("stopped after step 4 of 7"), r::toString);
        Cli.ok("run", "--resume", part);
        assertEquals(lossesAndNorms(full), lossesAndNorms(part));
    }

    /**
     * A real kill: the run goes in a child JVM (slowed down so that the kill lands between checkpoints), is killed
     * with SIGKILL after a checkpoint and a later step, and is resumed. The metrics of the steps after the checkpoint
     * are replaced, and all losses, gradient norms and learning rates equal those of an uninterrupted run bit for bit.
     */
    @Test
    void resumeAfterKillingTheProcess() throws Exception {
        Path cfg = config(12, 3);
        Path full = tmp.resolve("full");
        Cli.ok("run", cfg, "--out", full);

        Path killed = tmp.resolve("killed");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "-cp",
                System.getProperty("java.class.path"), "io.resflow.cli.Main", "run", cfg.toString(), "--out",
                killed.toString(), "--throttle-ms", "250")
                .redirectErrorStream(true).redirectOutput(tmp.resolve("child.log").toFile()).start();
        Path latest = killed.resolve("checkpoints").resolve("latest");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        try {
            // wait for the checkpoint of step 3 and the metrics line of step 4, then kill
            while (!(Files.exists(latest) && lineCount(killed.resolve("metrics.jsonl")) >= 4)) {
                assertTrue(p.isAlive(), () -> "child ended early: " + read(tmp.resolve("child.log")));
                assertTrue(System.nanoTime() < deadline, "timed out waiting for the child's checkpoint");
                Thread.sleep(10);
            }
        } finally {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        }
        int ckptStep = Integer.parseInt(Files.readString(latest).strip().replaceAll("\\D", ""));
        int logged = lineCount(killed.resolve("metrics.jsonl"));
        assertTrue(ckptStep < 12 && logged < 12, "the child must have been killed mid-run (checkpoint " + ckptStep
                + ", " + logged + " steps logged)");
        assertTrue(logged > ckptStep, "steps after the checkpoint were logged before the kill");

        Cli.Result r = Cli.ok("run", "--resume", killed);
        assertTrue(r.out().contains("resuming from"), r::toString);
        assertEquals(lossesAndNorms(full), lossesAndNorms(killed));
    }

    private static int lineCount(Path f) throws IOException {
        return Files.exists(f) ? (int) Files.readString(f).lines().filter(l -> l.endsWith("}")).count() : 0;
    }

    private static String read(Path f) {
        try {
            return Files.readString(f);
        } catch (IOException e) {
            return "(no log)";
        }
    }

    @Test
    void nonFiniteLossStopsWithExit3AndKeepsTheLastGoodCheckpoint() throws IOException {
        // lr 1e38: after one step the weights are ~1e38 and the next forward pass overflows
        Path cfg = Cli.write(tmp.resolve("nan.json"), Cli.tinyRun("\"checkpoint_every\": 1").replace("3e-3", "1e38"));
        Path out = tmp.resolve("nan");
        Cli.Result r = Cli.run("run", cfg, "--out", out);
        assertEquals(3, r.code(), r::toString);
        assertTrue(r.err().contains("step 2") && r.err().contains("NaN") && r.err().contains("first non-finite tensor: h.0."),
                r::toString);
        assertTrue(r.err().contains("last good checkpoint") && r.err().contains("ckpt-00000001"), r::toString);
        assertEquals("ckpt-00000001.safetensors", Files.readString(out.resolve("checkpoints/latest")).strip());
        assertEquals(1, Cli.jsonLines(out.resolve("metrics.jsonl")).size());
    }

    @Test
    void nonFiniteGradientNamesTheTensor() {
        Path cfg = Cli.write(tmp.resolve("g.json"), Cli.tinyRun(""));
        Cli.Result r = Cli.run("run", cfg, "--out", tmp.resolve("g"), "--backend", "fake:nangrad=h.0.fc.w");
        assertEquals(3, r.code(), r::toString);
        assertTrue(r.err().contains("step 1: gradient norm is NaN; first non-finite gradient (backward order): "
                + "h.0.fc.w[0] = NaN") && r.err().contains("no checkpoint was written"), r::toString);
    }

    @Test
    void forwardTaskOnGivenTokens() {
        Path cfg = Cli.write(tmp.resolve("fwd.json"), Cli.tinyRun(
                "\"task\": \"forward\", \"data\": {\"type\": \"inline\", \"tokens\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, "
                        + "12, 13, 14, 15, 16, 17]}").replace("\"steps\": 4", "\"steps\": 2"));
        Path out = tmp.resolve("fwd");
        Cli.ok("run", cfg, "--out", out);
        List<JsonNode> m = Cli.jsonLines(out.resolve("metrics.jsonl"));
        assertEquals(2, m.size());
        assertEquals(m.get(0).get("loss").asDouble(), m.get(1).get("loss").asDouble(), 0.0, "same tokens, same weights");
        try (SafeTensorsFile f = SafeTensorsFile.open(out.resolve("forward.safetensors"))) {
            assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, f.ints("inputs"));
            assertEquals(2 * 8 * 256, f.floats("logits").length);
            assertEquals(m.get(1).get("loss").asDouble(), f.doubles("loss")[0], 0.0);
        }
    }

    @Test
    void tokenFileData() {
        int[] tokens = new int[40];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (7 * i) % 256;
        }
        TokenFiles.writeBin(tmp.resolve("train.bin"), tokens);
        Path cfg = Cli.write(tmp.resolve("tok.json"), Cli.tinyRun("\"data\": {\"type\": \"token_file\", \"path\": \"train.bin\"}"));
        Cli.Result r = Cli.ok("run", cfg, "--out", tmp.resolve("tok"));
        assertTrue(r.out().contains("token file") && r.out().contains("40 tokens"), r::toString);
    }

    // ---- bad input ----

    private Path withData(String data) {
        return Cli.write(tmp.resolve("d.json"), Cli.tinyRun("\"data\": " + data));
    }

    private void badData(String data, String... fragments) {
        badInput(args("run", withData(data), "--out", tmp.resolve("o" + System.nanoTime())), fragments);
    }

    @Test
    void badTokenFiles() {
        Raw.tokenFile(tmp.resolve("magic.bin"), 1234, 1, 2, 1, 2);
        badData("{\"type\": \"token_file\", \"path\": \"magic.bin\"}", "magic.bin", "magic number 1234");
        Raw.tokenFile(tmp.resolve("version.bin"), TokenFiles.MAGIC, 7, 2, 1, 2);
        badData("{\"type\": \"token_file\", \"path\": \"version.bin\"}", "version.bin", "version 7");
        Raw.tokenFile(tmp.resolve("short.bin"), TokenFiles.MAGIC, 1, 100, 1, 2, 3);
        badData("{\"type\": \"token_file\", \"path\": \"short.bin\"}", "short.bin", "truncated", "100 tokens");
        Raw.bytes(tmp.resolve("header.bin"), new byte[100]);
        badData("{\"type\": \"token_file\", \"path\": \"header.bin\"}", "header.bin", "shorter than the token file header");
        int[] big = new int[40];
        big[33] = 4000;
        TokenFiles.writeBin(tmp.resolve("range.bin"), big);
        badData("{\"type\": \"token_file\", \"path\": \"range.bin\"}", "range.bin", "token id 4000 at index 33", "vocab_size 256");
        TokenFiles.writeBin(tmp.resolve("few.bin"), new int[10]);
        badData("{\"type\": \"token_file\", \"path\": \"few.bin\"}", "few.bin", "has 10 tokens", "17");
        badData("{\"type\": \"token_file\", \"path\": \"missing.bin\"}", "missing.bin", "not found");
    }

    @Test
    void badTextAndDataFields() {
        Raw.bytes(tmp.resolve("latin1.txt"), "caf\u00e9 au lait, caf\u00e9 au lait, caf\u00e9 au lait".getBytes(
                java.nio.charset.StandardCharsets.ISO_8859_1));
        badData("{\"type\": \"text_file\", \"path\": \"latin1.txt\"}", "latin1.txt", "not valid UTF-8");
        badData("{\"type\": \"parquet\", \"path\": \"x\"}", "d.json", "data.type 'parquet'");
        badData("{\"type\": \"text_file\"}", "d.json", "'data.path'");
        badData("{\"type\": \"synthetic\", \"batches\": 0}", "d.json", "'data.batches'", ">= 1");
        badData("{\"type\": \"synthetic\", \"shuffle\": true}", "d.json", "unknown field 'data.shuffle'");
        badData("\"random\"", "d.json", "field 'data'", "random");
        Cli.write(tmp.resolve("tiny.txt"), "0123456789");
        badData("{\"type\": \"text_file\", \"path\": \"tiny.txt\"}", "tiny.txt", "has 10 tokens");
        badData("{\"type\": \"inline\", \"tokens\": [1, 2, 3]}", "d.json", "'data.tokens'", "has 3 tokens", "17");
    }

    @Test
    void badRunConfigFields() {
        Path o = tmp.resolve("o");
        badInput(args("run", Cli.write(tmp.resolve("a.json"), Cli.tinyRun("\"lr_schedule\": \"linear\"")), "--out", o),
                "a.json", "'lr_schedule'", "constant, cosine");
        badInput(args("run", Cli.write(tmp.resolve("b.json"), Cli.tinyRun("\"lr_schedule\": \"cosine\", \"min_lr\": 1")),
                "--out", o), "b.json", "'min_lr'");
        badInput(args("run", Cli.write(tmp.resolve("c.json"), Cli.tinyRun("\"task\": \"eval\"")), "--out", o), "c.json",
                "'task'", "train, forward");
        badInput(args("run", Cli.write(tmp.resolve("d.json"), Cli.tinyRun("\"grad_clip\": -1")), "--out", o), "d.json",
                "'grad_clip'");
        badInput(args("run", Cli.write(tmp.resolve("e.json"), Cli.tinyRun("\"beta2\": 1.0")), "--out", o), "e.json",
                "'beta2'");
        badInput(args("run", Cli.write(tmp.resolve("f.json"), Cli.tinyRun("\"checkpoint_every\": 1.5")), "--out", o),
                "f.json", "'checkpoint_every'", "integer");
        badInput(args("run", Cli.write(tmp.resolve("g.json"), Cli.tinyRun("").replace("reference", "cuda")), "--out", o),
                "unknown backend 'cuda'");
        badInput(args("run", tmp.resolve("missing.json"), "--out", o), "missing.json", "not found");
        badInput(args("run"), "missing CONFIG");
    }

    @Test
    void badResume() throws IOException {
        badInput(args("run", "--resume", tmp.resolve("nowhere")), "not a run folder");
        Path cfg = config(2, 0);
        badInput(args("run", cfg, "--resume", tmp), "give either CONFIG");
        Path out = tmp.resolve("r");
        Cli.ok("run", cfg, "--out", out);
        Path ck = out.resolve("checkpoints/ckpt-00000002.safetensors");
        byte[] good = Files.readAllBytes(ck);
        // the only checkpoint is damaged: nothing verifies, and the message says how to start over
        Raw.truncate(ck, 1000);
        badInput(args("run", "--resume", out, "--steps", "3"), "ckpt-00000002.safetensors", "truncated", "--restart");
        Raw.bytes(ck, good);
        // a checkpoint of another model (d_model 16 instead of 32): it verifies, but does not fit the run's model
        Path run = out.resolve("run.json");
        String saved = Files.readString(run);
        Files.writeString(run, saved.replace("\"d_model\" : 32", "\"d_model\" : 16").replace("\"head_dim\" : 8", "\"head_dim\" : 4"));
        badInput(args("run", "--resume", out, "--steps", "3"), "ckpt-00000002.safetensors", "shape");
        Files.writeString(run, saved);
        // 'latest' is a pointer for people and tools: a resume takes the newest checkpoint that verifies
        Files.writeString(out.resolve("checkpoints/latest"), "ckpt-00000099.safetensors\n");
        Cli.Result r = Cli.ok("run", "--resume", out, "--steps", "3");
        assertTrue(r.out().contains("resuming from") && r.out().contains("ckpt-00000002"), r::toString);
        Files.delete(out.resolve("checkpoints/latest"));
        for (Path p : Checkpoints.list(out.resolve("checkpoints"))) {
            Files.delete(p);
        }
        badInput(args("run", "--resume", out, "--steps", "4"), "no checkpoint to resume from", "resflow run --restart " + out);
    }
}
