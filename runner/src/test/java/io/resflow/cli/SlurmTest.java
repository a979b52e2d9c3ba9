package io.resflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.resflow.mpi.MpiRun;
import io.resflow.mpi.SlurmCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel runs as Slurm batch jobs (issue 24): {@code scripts/slurm/resflow.sbatch} submitted as it is with
 * {@code sbatch --wait -n 2} to a one-node cluster of the class's own ({@code scripts/slurm-local.sh up}, down after
 * the class). The ranks are started by {@code srun --mpi=pmix}; the script runs, instead of ./resflow, a launcher of
 * this JVM's class path (RESFLOW), so that the classes under test run. Skipped with a printed line when Slurm (or
 * Open MPI) is not installed.
 */
class SlurmTest {
    private static SlurmCluster cluster;
    private static Path launcher;

    @TempDir
    static Path shared;

    @TempDir
    Path tmp;

    @BeforeAll
    static void up() throws InterruptedException {
        cluster = SlurmCluster.upOrNull(Cli.ROOT, shared.resolve("up.log"));
        launcher = SlurmCluster.javaLauncher(shared.resolve("resflow-test"), Main.class.getName());
    }

    /** Each test is skipped (and reported so) when the cluster could not start for want of Slurm or Open MPI. */
    @BeforeEach
    void installed() {
        Assumptions.assumeTrue(cluster != null, "Slurm or Open MPI not installed (the SKIPPED line says which)");
    }

    @AfterAll
    static void down() throws InterruptedException {
        if (cluster != null) {
            cluster.close();
        }
    }

    private Path config(String name, int batch, int steps, String extra) {
        return Cli.write(tmp.resolve(name + ".json"), """
                {"model": %s, "backend": "reference", "batch": %d, "seq_len": 8, "steps": %d, "lr": 3e-3,
                 "lr_schedule": "cosine", "warmup_steps": 1, "grad_clip": 0.5, "seed": 3,
                 "data": {"type": "text_file", "path": "%s"}%s}
                """.formatted(DataParallelTest.GPT2, batch, steps, Cli.ROOT.resolve("configs/data/sample.txt"),
                extra.isEmpty() ? "" : ", " + extra));
    }

    /** {@code sbatch --parsable [--wait] -n 2 -o LOG scripts/slurm/resflow.sbatch ARGS}; stdout is the job id. */
    private SlurmCluster.Result sbatch(boolean wait, Path log, Object... args) throws InterruptedException {
        List<String> c = new ArrayList<>(List.of("sbatch", "--parsable"));
        if (wait) {
            c.add("--wait");
        }
        c.addAll(List.of("-n", "2", "-o", log.toString(), "scripts/slurm/resflow.sbatch"));
        for (Object a : args) {
            c.add(a.toString());
        }
        return cluster.run(c, Map.of("RESFLOW", launcher.toString()), 3, tmp);
    }

    private static String jobId(SlurmCluster.Result r) {
        String id = r.out().lines().reduce((a, b) -> b).orElse("").split(";")[0].strip();
        assertTrue(id.matches("[0-9]+"), () -> "no job id from sbatch --parsable: " + r);
        return id;
    }

    private static List<String> withoutTimes(Path dir) {
        return DataParallelTest.metrics(dir).stream().map(JsonNode::toString).map(DataParallelTest::withoutTimes)
                .toList();
    }

    /**
     * Two ranks with batch 2 under sbatch train like one process with batch 4 (the comparison DataParallelTest makes
     * under mpirun: relative 1e-5 on every step's loss); only rank 0 writes; the completion log has the job,
     * COMPLETED with exit 0 over 2 CPUs.
     */
    @Test
    void aBatchJobOfTwoTasksTrainsLikeOneProcessWithTwiceTheBatch() throws Exception {
        Path one = tmp.resolve("one");
        Cli.ok("run", config("b4", 4, 4, ""), "--out", one);
        Path two = tmp.resolve("two");
        Path log = tmp.resolve("job.log");
        SlurmCluster.Result r = sbatch(true, log, "run", config("b2", 2, 4, ""), "--out", two);
        String out = MpiRun.read(log);
        assertEquals(0, r.code(), () -> r + "\njob log: " + out);
        String id = jobId(r);
        assertTrue(out.contains("resflow.sbatch: job " + id + ", 2 tasks on "), out);
        assertTrue(out.contains("checkout " + Cli.ROOT), out);
        assertTrue(out.contains("batch 2 per process x 2 processes = global batch 4"), out);
        assertTrue(out.contains("data parallel: 2 processes (Open MPI"), out);
        List<JsonNode> a = DataParallelTest.metrics(one);
        List<JsonNode> b = DataParallelTest.metrics(two);
        // one writer: one line per step (two writers would have appended eight), one summary line
        assertEquals(4, b.size(), out);
        for (int i = 0; i < a.size(); i++) {
            assertTrue(b.get(i).has("loss"), b.get(i)::toString);
            assertEquals(i + 1, b.get(i).get("step").asInt(), b.get(i)::toString);
            DataParallelTest.assertClose(a.get(i).get("loss").asDouble(), b.get(i).get("loss").asDouble(),
                    DataParallelTest.LOSS_RTOL, "loss, step " + (i + 1));
        }
        assertEquals(1, out.lines().filter(l -> l.startsWith("done: 4 steps")).count(), out);
        assertEquals(2, Cli.json(two.resolve("run.json")).get("batch").asInt());
        assertEquals(id + "|resflow|COMPLETED|0:0|2", cluster.sacct(id, tmp));
    }

    /**
     * A job cancelled with scancel after its first checkpoints resumes under a second sbatch from the newest that
     * verifies, and ends with the metrics of an uninterrupted two-task job bit for bit (times aside).
     */
    @Test
    void aCancelledJobResumesUnderASecondSbatchBitForBit() throws Exception {
        Path cfg = config("r", 2, 10, "\"checkpoint_every\": 1");
        Path full = tmp.resolve("full");
        SlurmCluster.Result f = sbatch(true, tmp.resolve("full.log"), "run", cfg, "--out", full);
        assertEquals(0, f.code(), () -> f + "\njob log: " + MpiRun.read(tmp.resolve("full.log")));

        Path part = tmp.resolve("part");
        Path log = tmp.resolve("part.log");
        SlurmCluster.Result s = sbatch(false, log, "run", cfg, "--out", part, "--throttle-ms", "400");
        assertEquals(0, s.code(), s::toString);
        String id = jobId(s);
        Path latest = part.resolve("checkpoints/latest");
        assertTrue(SlurmCluster.await(() -> Files.exists(latest) && Child.lines(part.resolve("metrics.jsonl")) >= 2,
                120), () -> "no checkpoint: " + MpiRun.read(log));
        assertEquals("RUNNING", cluster.squeue(id, tmp), "squeue shows the running job");
        SlurmCluster.Result c = cluster.run(List.of("scancel", id), Map.of(), 1, tmp);
        assertEquals(0, c.code(), c::toString);
        assertTrue(leavesTheQueue(id), "the cancelled job left the queue");
        assertTrue(cluster.sacct(id, tmp).startsWith(id + "|resflow|CANCELLED|"), () -> "sacct -c: " + id);
        int done = Child.lines(part.resolve("metrics.jsonl"));
        assertTrue(done < 10, "cancelled after " + done + " of 10 steps: " + MpiRun.read(log));

        Path rlog = tmp.resolve("resume.log");
        SlurmCluster.Result r = sbatch(true, rlog, "run", "--resume", part);
        String out = MpiRun.read(rlog);
        assertEquals(0, r.code(), () -> r + "\njob log: " + out);
        assertTrue(out.contains("resuming from "), out);
        assertEquals(withoutTimes(full), withoutTimes(part));
        assertEquals(10, withoutTimes(part).size());
    }

    /**
     * A task that stops answering in a two-task job (SIGSTOP: alive to the launcher and to any process watch, silent
     * to its peers, as a task whose host dropped off the network) is noticed by the other through the heartbeat
     * over MPI alone (the same-host process watch off, as for tasks on two hosts): rank 0 stops within 10 s with
     * exit 3 and a line saying rank 1 stopped answering. (A task killed outright is ended by Slurm itself: its PMIx
     * plugin cancels the step within about 7 s, the other tasks with it.)
     */
    @Test
    void aSilentTaskIsNoticedByTheHeartbeatWithin10Seconds() throws Exception {
        Path dir = tmp.resolve("dead");
        Path log = tmp.resolve("dead.log");
        List<String> c = new ArrayList<>(List.of("sbatch", "--parsable", "-n", "2", "-o", log.toString(),
                "scripts/slurm/resflow.sbatch", "run", config("d", 2, 400, "\"checkpoint_every\": 1").toString(),
                "--out", dir.toString(), "--throttle-ms", "20"));
        SlurmCluster.Result s = cluster.run(c, Map.of("RESFLOW", launcher.toString(), "RESFLOW_PID_WATCH", "0"), 1,
                tmp);
        assertEquals(0, s.code(), s::toString);
        String id = jobId(s);
        assertTrue(SlurmCluster.await(() -> Child.lines(dir.resolve("metrics.jsonl")) >= 3, 120),
                () -> "no steps: " + MpiRun.read(log));
        ProcessHandle victim = ProcessHandle.allProcesses().filter(h -> h.info().command().orElse("").endsWith("/java")
                && environ(h).contains("\0SLURM_JOB_ID=" + id + "\0") && environ(h).contains("\0SLURM_PROCID=1\0"))
                .findFirst().orElse(null);
        assertTrue(victim != null, "no JVM of task 1 of job " + id);
        long t0 = System.nanoTime();
        assertEquals(0, new ProcessBuilder("kill", "-STOP", Long.toString(victim.pid())).start().waitFor());
        String said = "runtime failure: rank 0 of 2: rank 1 stopped answering (no heartbeat for ";
        assertTrue(SlurmCluster.await(() -> MpiRun.read(log).contains(said), 30), () -> MpiRun.read(log));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(seconds < 10, "noticed after " + seconds + " s: " + MpiRun.read(log));
        String out = MpiRun.read(log);
        assertTrue(out.contains("no process watch (RESFLOW_PID_WATCH=0)"), out);
        assertTrue(out.contains("stopping with exit code 3; last good checkpoint: "), out);
        victim.destroyForcibly();
        assertTrue(leavesTheQueue(id), "the job ended");
    }

    /** Whether job {@code id} leaves squeue within 60 s. */
    private boolean leavesTheQueue(String id) throws InterruptedException {
        return SlurmCluster.await(() -> {
            try {
                return cluster.squeue(id, tmp).isEmpty();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }, 60);
    }

    private static String environ(ProcessHandle h) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc/" + h.pid() + "/environ")));
        } catch (java.io.IOException e) {
            return "";
        }
    }

    /**
     * The bench matrix as a job array (scripts/slurm/bench-array.sbatch, one cell per task) and merged: the reports
     * of one local run, each cell as its task wrote it.
     */
    @Test
    void aBenchMatrixRunsAsAJobArrayAndMergesIntoTheReportsOfOneRun() throws Exception {
        Path cfg = BenchCellsTest.config(tmp);
        Path whole = tmp.resolve("whole");
        Cli.ok("bench", cfg, "--out", whole);
        int n = (int) Cli.ok("bench", cfg, "--list-cells").out().lines().count();
        assertEquals(BenchCellsTest.CELLS, n);
        Path cells = tmp.resolve("cells");
        SlurmCluster.Result r = cluster.run(List.of("sbatch", "--parsable", "--wait", "--array=0-" + (n - 1), "-o",
                tmp.resolve("cell-%a.log").toString(), "scripts/slurm/bench-array.sbatch", cfg.toString(),
                cells.toString()), Map.of("RESFLOW", launcher.toString()), 3, tmp);
        assertEquals(0, r.code(), () -> r + "\ntask 0: " + MpiRun.read(tmp.resolve("cell-0.log")));
        String id = jobId(r);
        for (int i = 0; i < n; i++) {
            String log = MpiRun.read(tmp.resolve("cell-" + i + ".log"));
            assertTrue(log.contains("bench-array.sbatch: job " + id + " task " + i + " on "), log);
        }
        Path merged = tmp.resolve("merged");
        Cli.ok("bench", cfg, "--merge", cells, "--out", merged);
        BenchCellsTest.assertSameReports(whole, merged);
        BenchCellsTest.assertCellsKept(cells, merged);
    }
}
