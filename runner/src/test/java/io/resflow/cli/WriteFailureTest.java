package io.resflow.cli;

import io.resflow.train.Checkpoints;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A write that fails while a run trains (a full disk, a file-size limit) is a runtime failure, exit 3, with a plain
 * message; the previous checkpoint stays intact and the run resumes from it (issue 11, row 5).
 */
class WriteFailureTest {
    @TempDir
    Path tmp;

    private Path config(int steps) {
        return Cli.tinyRunConfig(tmp, "\"checkpoint_every\": 2, \"keep_checkpoints\": 2", steps);
    }

    private static List<String> metrics(Path runDir) {
        return Cli.jsonLines(runDir.resolve("metrics.jsonl")).stream()
                .map(n -> n.get("step").asText() + " " + n.get("loss").asText()).toList();
    }

    private static void plainRuntimeFailure(String err, String reason) {
        assertTrue(err.contains("runtime failure: ") && err.contains("cannot write: " + reason), err);
        assertTrue(err.contains("last good checkpoint"), err);
        assertFalse(err.contains("Exception") || err.contains("java.") || err.contains("\tat "), err);
    }

    /** A real full disk: a small tmpfs as --out (needs root and permission to mount; skipped, and says so, if not). */
    @Test
    void aFullDiskIsExit3AndThePreviousCheckpointStaysIntact() throws Exception {
        Path cfg = config(10);
        Path full = tmp.resolve("full");
        Cli.ok("run", cfg, "--out", full);
        long ckpt = Files.size(full.resolve("checkpoints/ckpt-00000010.safetensors"));
        // room for two checkpoints and the small files, not for a third
        long kib = (5 * ckpt / 2) / 1024 + 64;
        Path mnt = Files.createDirectories(tmp.resolve("mnt"));
        Process m = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + kib + "k", "tmpfs", mnt.toString())
                .redirectErrorStream(true).start();
        boolean mounted = m.waitFor(30, TimeUnit.SECONDS) && m.exitValue() == 0;
        Assumptions.assumeTrue(mounted, "cannot mount a tmpfs here (needs root); the file-size-limit test covers exit 3: "
                + new String(m.getInputStream().readAllBytes()));
        try {
            Path dir = mnt.resolve("run");
            Cli.Result r = Cli.run("run", cfg, "--out", dir);
            assertEquals(3, r.code(), r::toString);
            plainRuntimeFailure(r.err(), "no space left on device");
            assertEquals(1, r.err().strip().lines().count(), r::toString);
            Path last = Checkpoints.newest(dir);
            assertEquals("ckpt-00000004.safetensors", last.getFileName().toString(), r::toString);
            assertNull(Checkpoints.problem(last), "the previous checkpoint verifies");
            // moved to a disk with room, the run resumes from it and ends as the uninterrupted run did
            Path moved = tmp.resolve("moved");
            copyTree(dir, moved);
            Cli.ok("run", "--resume", moved);
            assertEquals(metrics(full), metrics(moved));
        } finally {
            new ProcessBuilder("umount", mnt.toString()).start().waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** A file-size limit (ulimit -f: the write fails with EFBIG) in a child JVM; runs on any Linux, root or not. */
    @Test
    void aWriteThatFailsMidRunIsExit3AndTheRunResumesFromThePreviousCheckpoint() throws Exception {
        Path cfg = config(8);
        Path full = tmp.resolve("full");
        Cli.ok("run", cfg, "--out", full);
        Path dir = tmp.resolve("limited");
        Cli.ok("run", cfg, "--out", dir, "--stop-after", "2");
        long ckpt = Files.size(dir.resolve("checkpoints/ckpt-00000002.safetensors"));
        List<String> cmd = new ArrayList<>(List.of("bash", "-c", "ulimit -f " + (ckpt / 1024 - 8) + " && exec \"$@\"", "bash"));
        cmd.addAll(Child.command("run", "--resume", dir));
        Path log = tmp.resolve("child.log");
        int code = Child.run(cmd, Map.of(), log);
        String out = Child.read(log);
        assertEquals(3, code, out);
        plainRuntimeFailure(out, "file too large");
        Path kept = dir.resolve("checkpoints/ckpt-00000002.safetensors");
        assertEquals(kept, Checkpoints.newest(dir), out);
        assertNull(Checkpoints.problem(kept));
        Cli.ok("run", "--resume", dir);
        assertEquals(metrics(full), metrics(dir));
    }

    private static void copyTree(Path from, Path to) throws java.io.IOException {
        try (var s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path q = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(q);
                } else {
                    Files.copy(p, q);
                }
            }
        }
    }
}
