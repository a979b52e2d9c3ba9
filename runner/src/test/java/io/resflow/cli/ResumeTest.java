package io.resflow.cli;

import io.resflow.train.Checkpoints;

import static io.resflow.cli.Cli.args;
import static io.resflow.cli.Cli.badInput;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Resume always finds the last good state (issue 11, rows 7-9): a run that died before its first checkpoint can be
 * restarted with the flag the message names; a truncated or damaged newest checkpoint is skipped (and named) for an
 * intact older one; a data file that changed since the run began is refused unless --force.
 */
class ResumeTest {
    @TempDir
    Path tmp;

    private Path config(int steps, int every) {
        Cli.write(tmp.resolve("corpus.txt"), "The residual stream carries every layer's input to its output, and the "
                + "skip path carries the gradient back.\n");
        return Cli.tinyRunConfig(tmp, """
                "lr_schedule": "cosine", "warmup_steps": 2, "checkpoint_every": %d, "keep_checkpoints": 2,
                "data": {"type": "text_file", "path": "corpus.txt"}""".formatted(every), steps);
    }

    private static List<String> metrics(Path runDir) {
        return Cli.jsonLines(runDir.resolve("metrics.jsonl")).stream()
                .map(n -> n.get("step").asText() + " " + n.get("loss").asText() + " " + n.get("grad_norm").asText())
                .toList();
    }

    /** Row 7: NaN (or a kill) before the first checkpoint: --resume names --restart, which starts it over. */
    @Test
    void aRunThatDiedBeforeItsFirstCheckpointIsRestartedWithTheFlagTheMessageNames() throws Exception {
        Path cfg = config(4, 2);
        Path dir = tmp.resolve("died");
        Cli.Result died = Cli.run("run", cfg, "--out", dir, "--backend", "fake:nangrad=h.0.fc.w");
        assertEquals(3, died.code(), died::toString);
        assertTrue(Files.exists(dir.resolve("run.json")));
        badInput(args("run", "--resume", dir), "no checkpoint to resume from", "resflow run --restart " + dir);
        badInput(args("run", cfg, "--out", dir), "already holds a run", "--restart " + dir);
        Cli.Result r = Cli.ok("run", "--restart", dir, "--backend", "reference");
        assertTrue(r.out().contains("done: 4 steps"), r::toString);
        Path full = tmp.resolve("full");
        Cli.ok("run", cfg, "--out", full);
        assertEquals(metrics(full), metrics(dir));
        // once the run has checkpoints, starting it over needs --force
        badInput(args("run", "--restart", dir), "has checkpoints", "--resume " + dir, "--force");
        Cli.ok("run", "--restart", dir, "--force", "--backend", "reference");
        assertEquals(metrics(full), metrics(dir));
    }

    /** Row 8: the newest checkpoint truncated (or changed) is skipped for the intact older one, and named. */
    @Test
    void aDamagedNewestCheckpointIsSkippedForAnIntactOlderOne() throws Exception {
        Path cfg = config(8, 2);
        Path full = tmp.resolve("full");
        Cli.ok("run", cfg, "--out", full);
        Path part = tmp.resolve("part");
        Cli.ok("run", cfg, "--out", part, "--stop-after", "6");
        Path newest = part.resolve("checkpoints/ckpt-00000006.safetensors");
        long size = Files.size(newest);
        assertTrue(size > 100_000, "the checkpoint is larger than what is kept: " + size);
        assertNull(Checkpoints.problem(newest));
        Raw.truncate(newest, 100_000);
        Cli.Result r = Cli.ok("run", "--resume", part);
        assertTrue(r.out().contains("skipped checkpoints/ckpt-00000006.safetensors: truncated: 100,000 bytes, "
                + String.format("%,d", size) + " were written"), r::toString);
        assertTrue(r.out().contains("resuming from " + part.resolve("checkpoints/ckpt-00000004.safetensors")), r::toString);
        assertEquals(metrics(full), metrics(part));

        // same size, one byte changed: the checksum finds it
        Path again = tmp.resolve("again");
        Cli.ok("run", cfg, "--out", again, "--stop-after", "6");
        Path ck = again.resolve("checkpoints/ckpt-00000006.safetensors");
        byte[] b = Files.readAllBytes(ck);
        b[b.length - 3] ^= 0x10;
        Files.write(ck, b);
        Cli.Result r2 = Cli.ok("run", "--resume", again);
        assertTrue(r2.out().contains("skipped checkpoints/ckpt-00000006.safetensors: checksum mismatch"), r2::toString);
        assertEquals(metrics(full), metrics(again));
    }

    /** Row 9: the data file changed (same length) since the run began: refused, unless --force. */
    @Test
    void changedDataIsRefusedOnResumeUnlessForced() throws Exception {
        Path cfg = config(6, 2);
        Path dir = tmp.resolve("data");
        Cli.ok("run", cfg, "--out", dir, "--stop-after", "2");
        assertTrue(Cli.json(dir.resolve("run.json")).get("data").get("sha256").asText().matches("[0-9a-f]{64}"));
        Path corpus = tmp.resolve("corpus.txt");
        String text = Files.readString(corpus);
        Files.writeString(corpus, text.replace("residual", "RESIDUAL")); // same length
        badInput(args("run", "--resume", dir), "run.json", "'data.sha256'", corpus.toString(), "changed since the run began",
                "--force");
        assertEquals(2, Cli.jsonLines(dir.resolve("metrics.jsonl")).size(), "nothing was trained or written");
        Cli.Result r = Cli.ok("run", "--resume", dir, "--force");
        assertTrue(r.out().contains("continuing on the changed data"), r::toString);
        assertEquals(6, Cli.jsonLines(dir.resolve("metrics.jsonl")).size());
        // run.json now records the new content: a later resume does not complain
        Cli.ok("run", "--resume", dir, "--steps", "7");
        assertFalse(Files.readString(dir.resolve("run.json")).isEmpty());
    }

    /**
     * A bf16 run records its dtype in run.json; a resume keeps it bit for bit (4 steps in one go = 2 + 2 resumed), and
     * resuming it in another dtype is bad input naming both.
     */
    @Test
    void aBf16RunResumesInBf16BitForBit() throws Exception {
        Path cfg = config(4, 2);
        Path full = tmp.resolve("bf16-full");
        Cli.Result r = Cli.ok("run", cfg, "--out", full, "--dtype", "bf16", "--backend", "jvm");
        assertTrue(r.out().contains("dtype bf16"), r::toString);
        assertTrue(Files.readString(full.resolve("run.json")).contains("\"dtype\" : \"bf16\"")
                || Files.readString(full.resolve("run.json")).contains("\"dtype\":\"bf16\""), "run.json records the dtype");
        Path part = tmp.resolve("bf16-part");
        Cli.ok("run", cfg, "--out", part, "--dtype", "bf16", "--backend", "jvm", "--steps", "2");
        badInput(args("run", "--resume", part, "--dtype", "fp32"), "--dtype fp32", "trains in bf16");
        Cli.ok("run", "--resume", part, "--steps", "4");
        assertEquals(metrics(full), metrics(part));
        Path fp32 = tmp.resolve("fp32");
        Cli.ok("run", cfg, "--out", fp32, "--backend", "jvm");
        assertNotEquals(metrics(full), metrics(fp32), "bf16 and fp32 runs should differ");
    }
}
