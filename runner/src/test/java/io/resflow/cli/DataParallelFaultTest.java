package io.resflow.cli;

import io.resflow.train.Checkpoints;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.mpi.MpiRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rank killed (SIGKILL) in the middle of a data-parallel run (issue 15, faults): the other rank stops within
 * seconds with exit 3 and a line naming the rank that ended; every checkpoint left verifies (rank 0 writes each to a
 * temporary file and renames it, so a kill of the writer in the middle of a write leaves no torn checkpoint), and the
 * run resumes from the newest with the same N.
 *
 * <p>Each rank runs under {@code bash -c 'trap "" TERM; java ...; echo exit $? > rc.<rank>'} so that the test sees
 * each rank's own exit code (mpirun itself exits with the status of the rank that was killed, 137) and the JVM is
 * not ended by mpirun's SIGTERM before its own watch of the other ranks' processes sees the death.
 */
class DataParallelFaultTest {
    @TempDir
    Path tmp;

    private Path config() {
        return Cli.write(tmp.resolve("f.json"), """
                {"model": %s, "backend": "reference", "batch": 2, "seq_len": 8, "steps": 400, "lr": 1e-3, "seed": 3,
                 "checkpoint_every": 1, "keep_checkpoints": 3, "data": {"type": "text_file", "path": "%s"}}
                """.formatted(DataParallelTest.GPT2, Cli.ROOT.resolve("configs/data/sample.txt")));
    }

    private List<String> wrapped(Object... args) {
        List<String> inner = MpiRun.command(2, List.of(), Main.class.getName(), args);
        int java = inner.indexOf("-np") + 2;
        List<String> c = new ArrayList<>(inner.subList(0, java));
        c.addAll(List.of("bash", "-c", "trap '' TERM; \"$@\"; echo $? > " + tmp + "/rc.$OMPI_COMM_WORLD_RANK", "_"));
        c.addAll(inner.subList(java, inner.size()));
        return c;
    }

    /** The JVM of {@code rank} among mpirun's descendants (its environment names the rank). */
    private static ProcessHandle rankJvm(Process mpirun, int rank) throws IOException {
        for (ProcessHandle h : mpirun.descendants().toList()) {
            Path env = Path.of("/proc/" + h.pid() + "/environ");
            if (h.info().command().orElse("").endsWith("/java") && Files.exists(env)
                    && new String(Files.readAllBytes(env)).contains("\0OMPI_COMM_WORLD_RANK=" + rank + "\0")) {
                return h;
            }
        }
        return null;
    }

    private void killAndCheck(int victim) throws Exception {
        MpiRun.require();
        Path dir = tmp.resolve("run");
        Path log = tmp.resolve("log");
        Process p = MpiRun.start(wrapped("run", config(), "--out", dir, "--throttle-ms", "20"), Map.of(), log);
        try {
            Child.await(p, log, () -> Child.lines(dir.resolve("metrics.jsonl")) >= 4);
            ProcessHandle h = rankJvm(p, victim);
            assertTrue(h != null, "no JVM of rank " + victim + " among mpirun's descendants");
            long t0 = System.nanoTime();
            assertTrue(h.destroyForcibly());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), () -> "mpirun did not end: " + MpiRun.read(log));
            double seconds = (System.nanoTime() - t0) / 1e9;
            int survivor = 1 - victim;
            String out = MpiRun.read(log);
            assertEquals("3", Files.readString(tmp.resolve("rc." + survivor)).strip(), out);
            assertTrue(seconds < 10, "stopped after " + seconds + " s");
            assertTrue(out.contains("runtime failure: rank " + survivor + " of 2: rank " + victim + " (pid " + h.pid()
                    + ") ended; stopping with exit code 3; last good checkpoint: "), out);
        } finally {
            p.destroyForcibly();
        }
        // no torn checkpoint: every one left verifies, and latest names one of them
        List<Path> all = Checkpoints.list(Checkpoints.dir(dir));
        assertFalse(all.isEmpty());
        for (Path f : all) {
            assertNull(Checkpoints.problem(f), f.toString());
        }
        String latest = Files.readString(Checkpoints.dir(dir).resolve("latest")).strip();
        assertTrue(Files.exists(Checkpoints.dir(dir).resolve(latest)), latest);
        // and the run resumes from the newest with the same N
        long step = Checkpoints.stepOf(all.get(all.size() - 1));
        MpiRun.Result r = MpiRun.run(MpiRun.command(2, List.of(), Main.class.getName(), "run", "--resume", dir,
                "--steps", step + 1), Map.of(), tmp.resolve("resume.log"), 3);
        assertEquals(0, r.code(), r.output());
        assertTrue(r.output().contains("resuming from ") && !r.output().contains("skipped"), r.output());
        assertTrue(r.output().contains("done: 1 steps"), r.output());
    }

    @Test
    void aKilledRankStopsTheOtherWithExit3NamingIt() throws Exception {
        killAndCheck(1);
    }

    /** The writer killed while it checkpoints every step: nothing torn, rank 1 names rank 0. */
    @Test
    void aKilledWriterLeavesNoTornCheckpoint() throws Exception {
        killAndCheck(0);
    }

    /**
     * The heartbeat alone (the same-host process watch off: {@code RESFLOW_PID_WATCH=0}, as for ranks on other
     * hosts; mpirun told not to end the job itself: {@code --enable-recovery}): rank 1's JVM killed, rank 0 stops
     * within 10 s with exit 3, saying rank 1 stopped answering, and its last good checkpoint.
     */
    @Test
    void theHeartbeatNoticesADeadRankWithoutTheProcessWatch() throws Exception {
        MpiRun.require();
        Path dir = tmp.resolve("hb");
        Path log = tmp.resolve("hb.log");
        List<String> c = wrapped("run", config(), "--out", dir, "--throttle-ms", "20");
        c.addAll(c.indexOf("-np"), List.of("--enable-recovery", "-x", "RESFLOW_PID_WATCH"));
        Process p = MpiRun.start(c, Map.of("RESFLOW_PID_WATCH", "0"), log);
        try {
            Child.await(p, log, () -> Child.lines(dir.resolve("metrics.jsonl")) >= 3);
            ProcessHandle h = rankJvm(p, 1);
            assertTrue(h != null, "no JVM of rank 1 among mpirun's descendants");
            long t0 = System.nanoTime();
            assertTrue(h.destroyForcibly());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), () -> "mpirun did not end: " + MpiRun.read(log));
            double seconds = (System.nanoTime() - t0) / 1e9;
            String out = MpiRun.read(log);
            assertTrue(out.contains("peer watch: a heartbeat over MPI every 0.5 s, a rank silent for 6 s is taken for "
                    + "dead; no process watch (RESFLOW_PID_WATCH=0)"), out);
            assertEquals("3", Files.readString(tmp.resolve("rc.0")).strip(), out);
            assertTrue(out.contains("runtime failure: rank 0 of 2: rank 1 stopped answering (no heartbeat for "), out);
            assertTrue(out.contains("stopping with exit code 3; last good checkpoint: "), out);
            assertTrue(seconds < 10, "stopped after " + seconds + " s: " + out);
        } finally {
            p.destroyForcibly();
        }
    }
}
