package io.resflow.cli;

import static io.resflow.cli.Cli.args;
import static io.resflow.cli.Cli.badInput;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One writer per output folder, and no results replaced unless asked (issue 11, rows 1-3): the folder's lock is an
 * OS lock (a second writer, in this or another process, gets exit 2 naming the holder's pid; a kill -9 releases it),
 * an explicit --out that holds files is refused unless --force, and leftover temporary files are removed.
 */
class OutputFolderTest {
    @TempDir
    Path tmp;

    private Path config(int steps) {
        return Cli.tinyRunConfig(tmp, "\"checkpoint_every\": 1", steps);
    }

    private static List<Integer> steps(Path runDir) {
        return Cli.jsonLines(runDir.resolve("metrics.jsonl")).stream().map(n -> n.get("step").asInt()).toList();
    }

    /** Row 1: a second writer (resume or new run) while a run writes is refused naming its pid; kill -9 frees it. */
    @Test
    void aSecondWriterIsRefusedWithTheHoldersPidAndAKillReleasesTheLock() throws Exception {
        Path cfg = config(40);
        Path dir = tmp.resolve("run");
        Path log = tmp.resolve("child.log");
        Process p = Child.start(Child.command("run", cfg, "--out", dir, "--throttle-ms", "200"), Map.of(), log);
        try {
            Child.await(p, log, () -> Child.lines(dir.resolve("metrics.jsonl")) >= 2);
            String pid = "pid " + p.pid();
            badInput(args("run", "--resume", dir), "another resflow process (" + pid + ")", "is writing into this folder");
            badInput(args("run", cfg, "--out", dir, "--force"), "another resflow process (" + pid + ")");
            badInput(args("run", "--restart", dir, "--force"), "another resflow process (" + pid + ")");
        } finally {
            Child.kill(p);
        }
        // the OS released the lock with the process: the run continues from its last checkpoint
        Cli.Result r = Cli.ok("run", "--resume", dir, "--steps", "40");
        assertTrue(r.out().contains("resuming from"), r::toString);
        List<Integer> s = steps(dir);
        assertEquals(40, s.size(), s::toString);
        for (int i = 0; i < s.size(); i++) {
            assertEquals(i + 1, s.get(i), "metrics lines in order, none twice: " + s);
        }
    }

    /** Row 1: two runs started at once into one folder: one trains, the other is refused; metrics never mix. */
    @Test
    void twoRunsStartedAtOnceNeverMixTheirMetrics() throws Exception {
        Path cfg = config(6);
        Path dir = tmp.resolve("both");
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<Cli.Result>> runs = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                runs.add(pool.submit(() -> {
                    go.await();
                    return Cli.run("run", cfg, "--out", dir);
                }));
            }
            go.countDown();
            List<Cli.Result> results = new ArrayList<>();
            for (Future<Cli.Result> f : runs) {
                results.add(f.get());
            }
            long ok = results.stream().filter(r -> r.code() == 0).count();
            long refused = results.stream().filter(r -> r.code() == 2).count();
            assertEquals(1, ok, results::toString);
            assertEquals(1, refused, results::toString);
            assertEquals(List.of(1, 2, 3, 4, 5, 6), steps(dir));
        } finally {
            pool.shutdownNow();
        }
    }

    /** Row 2: bench, validate and ablation refuse a folder that holds results; --force replaces only their own. */
    @Test
    void reportCommandsRefuseAFolderWithResultsUnlessForced() throws Exception {
        Path model = tmp.resolve("m.json");
        Cli.write(model, Cli.tinyRun(""));
        Path bcfg = Cli.write(tmp.resolve("bench.json"), """
                {"name": "b", "models": ["m.json"], "backends": ["reference"], "modes": ["forward"], "warmup": 1,
                 "repeats": 1, "check": "none"}
                """);
        Path bench = tmp.resolve("bench");
        Cli.ok("bench", bcfg, "--out", bench);
        byte[] before = Files.readAllBytes(bench.resolve("bench.json"));
        // the earlier bench.json as the baseline of a new bench into the same folder: refused, the baseline kept
        badInput(args("bench", bcfg, "--out", bench, "--baseline", bench.resolve("bench.json")), "already holds files",
                "bench.json", "--force");
        assertArrayEquals(before, Files.readAllBytes(bench.resolve("bench.json")));
        Cli.write(bench.resolve("notes.txt"), "mine");
        Cli.Result forced = Cli.ok("bench", bcfg, "--out", bench, "--force");
        assertTrue(forced.out().contains("--force: removed the earlier bench results"), forced::toString);
        assertEquals("mine", Files.readString(bench.resolve("notes.txt")), "other files stay");
        assertFalse(Files.exists(bench.resolve("step_ms-train.png")));

        Path val = tmp.resolve("validate");
        Cli.ok("validate", model, "--backend", "reference", "--out", val);
        byte[] v = Files.readAllBytes(val.resolve("validate.json"));
        badInput(args("validate", model, "--backend", "reference", "--out", val), "already holds files", "validate.json");
        assertArrayEquals(v, Files.readAllBytes(val.resolve("validate.json")));
        Cli.ok("validate", model, "--backend", "reference", "--out", val, "--force");

        Path abl = tmp.resolve("ablation");
        Object[] ablation = {"ablation", model, "--schemes", "pre", "--steps", "1", "--out", abl};
        Cli.ok(ablation);
        byte[] a = Files.readAllBytes(abl.resolve("ablation.json"));
        badInput(ablation, "already holds files", "ablation.json");
        assertArrayEquals(a, Files.readAllBytes(abl.resolve("ablation.json")));
        // a folder holding another command's results is refused too (results never mix without --force)
        badInput(args("validate", model, "--backend", "reference", "--out", abl), "already holds files", "ablation.json");
    }

    /** Row 3: run --out a folder that is not a run is refused (nothing appended); --force keeps the other files. */
    @Test
    void runRefusesAFolderThatHoldsFiles() throws Exception {
        Path dir = tmp.resolve("notarun");
        Cli.write(dir.resolve("metrics.jsonl"), "someone else's metrics\n");
        Cli.write(dir.resolve("notes.txt"), "keep me\n");
        badInput(args("run", config(3), "--out", dir), "already holds files", "metrics.jsonl", "--force");
        assertEquals("someone else's metrics\n", Files.readString(dir.resolve("metrics.jsonl")));
        assertFalse(Files.exists(dir.resolve("run.json")));
        Cli.ok("run", config(3), "--out", dir, "--force");
        assertEquals(List.of(1, 2, 3), steps(dir));
        assertEquals("keep me\n", Files.readString(dir.resolve("notes.txt")));
        // and a folder that holds a run says how to continue it
        badInput(args("run", config(3), "--out", dir), "already holds a run", "--resume " + dir, "--restart " + dir);
    }

    /** Row 3: temporary files left by a kill during a checkpoint are removed by the next run in the folder. */
    @Test
    void leftoverTemporaryFilesAreRemovedByTheNextRunInTheFolder() throws Exception {
        Path dir = tmp.resolve("tmpfiles");
        Cli.ok("run", config(4), "--out", dir, "--stop-after", "2");
        Path t1 = Cli.write(dir.resolve("checkpoints/.ckpt-00000003.safetensors.8123456789.tmp"), "half a checkpoint");
        Path t2 = Cli.write(dir.resolve(".run.json.42.tmp"), "{");
        Path mine = Cli.write(dir.resolve("checkpoints/.notes.tmp"), "not ours: no digits");
        Cli.Result r = Cli.ok("run", "--resume", dir);
        assertTrue(r.out().contains("removed 2 leftover temporary files"), r::toString);
        assertFalse(Files.exists(t1) || Files.exists(t2), r::toString);
        assertTrue(Files.exists(mine));
        JsonNode last = Cli.jsonLines(dir.resolve("metrics.jsonl")).getLast();
        assertEquals(4, last.get("step").asInt());
    }
}
