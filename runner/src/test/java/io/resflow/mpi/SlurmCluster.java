package io.resflow.mpi;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Test helper: a one-node Slurm cluster of its own, started by {@code scripts/slurm-local.sh up} and stopped by
 * {@code down} (Debian's slurm-wlm and munge; {@code .ci/run} installs them). {@link #upOrNull} prints one line and
 * gives null when Slurm is not installed; an installed Slurm that does not come up fails. The
 * clients ({@code sbatch}, {@code squeue}, {@code scancel}, {@code sacct}) run with the cluster's environment
 * ({@code SLURM_CONF}), in {@code root} (the checkout, so that jobs see it as {@code SLURM_SUBMIT_DIR}).
 */
public final class SlurmCluster implements AutoCloseable {
    private final Path root;
    private final Map<String, String> env;

    private SlurmCluster(Path root, Map<String, String> env) {
        this.root = root;
        this.env = env;
    }

    /** What is missing for a local cluster, or null when everything is installed. */
    static String missing() {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)));
        dirs.add("/usr/sbin");
        List<String> absent = new ArrayList<>();
        for (String c : List.of("sbatch", "srun", "squeue", "scancel", "sacct", "slurmctld", "slurmd", "munged")) {
            if (dirs.stream().noneMatch(d -> Files.isExecutable(Path.of(d.isEmpty() ? "." : d, c)))) {
                absent.add(c);
            }
        }
        return absent.isEmpty() ? null : String.join(", ", absent);
    }

    /**
     * Starts a cluster with {@code root}/scripts/slurm-local.sh; when Slurm or Open MPI (the ranks need its library)
     * is not installed, prints one line saying what is missing and returns null (the tests then skip themselves).
     * An installed Slurm that does not come up is a failure.
     */
    public static SlurmCluster upOrNull(Path root, Path log) throws InterruptedException {
        String absent = missing();
        if (absent != null) {
            System.out.println("SKIPPED (Slurm not installed: no " + absent
                    + "; apt-get install slurmctld slurmd slurm-client munge, as .ci/run does)");
            return null;
        }
        String mpi = MpiRun.missing();
        if (mpi != null) {
            System.out.println("SKIPPED (Open MPI not installed: " + mpi
                    + "; apt-get install openmpi-bin libopenmpi-dev, as .ci/run does)");
            return null;
        }
        Path out = log.resolveSibling(log.getFileName() + ".stdout");
        ProcessBuilder pb = new ProcessBuilder(root.resolve("scripts/slurm-local.sh").toString(), "up")
                .directory(root.toFile()).redirectOutput(out.toFile()).redirectError(log.toFile());
        int code = waitFor(start(pb), 2, "slurm-local.sh up", log);
        Map<String, String> env = new LinkedHashMap<>();
        for (String line : MpiRun.read(out).lines().toList()) {
            if (!line.startsWith("export ") || !line.contains("=")) {
                throw new AssertionError("slurm-local.sh up printed a line that is not an export: " + line);
            }
            String kv = line.substring("export ".length());
            env.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
        }
        if (code != 0 || !env.containsKey("SLURM_CONF") || !env.containsKey("RESFLOW_SLURM_DIR")) {
            throw new AssertionError("slurm-local.sh up failed (exit " + code + "): " + MpiRun.read(out) + MpiRun.read(log));
        }
        return new SlurmCluster(root, Map.copyOf(env));
    }

    /** The cluster's environment (SLURM_CONF, RESFLOW_SLURM_DIR) for the clients and the jobs. */
    public Map<String, String> env() {
        return env;
    }

    /** Result of a client command: exit code, standard output, standard error. */
    public record Result(int code, String out, String err) {
        @Override
        public String toString() {
            return "exit " + code + ", stdout: " + out + ", stderr: " + err;
        }
    }

    /** Runs a client (sbatch, squeue, ...) in the checkout with the cluster's and {@code extra} environment. */
    public Result run(List<String> command, Map<String, String> extra, int minutes, Path dir)
            throws InterruptedException {
        Path out = dir.resolve("client-" + System.nanoTime() + ".out");
        Path err = dir.resolve("client-" + System.nanoTime() + ".err");
        ProcessBuilder pb = new ProcessBuilder(command).directory(root.toFile()).redirectOutput(out.toFile())
                .redirectError(err.toFile());
        pb.environment().putAll(env);
        pb.environment().putAll(extra);
        int code = waitFor(start(pb), minutes, String.join(" ", command), err);
        return new Result(code, MpiRun.read(out).strip(), MpiRun.read(err).strip());
    }

    /**
     * The job's line in the completion log through {@code sacct -c}: {@code ID|NAME|STATE|EXIT|NCPUS}, or "" when
     * it has none 5 s after the call.
     */
    public String sacct(String jobId, Path dir) throws InterruptedException {
        // slurmctld writes the line as the job ends; allow it a few seconds after sbatch --wait returned
        for (int i = 0; ; i++) {
            Result r = run(List.of("sacct", "-c", "-n", "-P", "-j", jobId, "-o",
                    "JobID,JobName,State,ExitCode,NCPUS"), Map.of(), 1, dir);
            if (r.code() != 0) {
                throw new AssertionError("sacct -c failed: " + r);
            }
            if (!r.out().isEmpty() || i == 25) {
                return r.out();
            }
            Thread.sleep(200);
        }
    }

    /** The job's state in {@code squeue} (RUNNING, PENDING, ...), "" when it is no longer queued. */
    public String squeue(String jobId, Path dir) throws InterruptedException {
        return run(List.of("squeue", "-h", "-j", jobId, "-o", "%T"), Map.of(), 1, dir).out();
    }

    /** Waits (polling every 0.2 s, at most {@code seconds}) for {@code done}; false when it never came. */
    public static boolean await(BooleanSupplier done, int seconds) throws InterruptedException {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < end) {
            if (done.getAsBoolean()) {
                return true;
            }
            Thread.sleep(200);
        }
        return done.getAsBoolean();
    }

    /**
     * An executable script that runs {@code java} with this test JVM's class path and {@code main}: what the
     * batch script runs instead of ./resflow when RESFLOW names it (the checkout's jars may be older than the
     * classes under test).
     */
    public static Path javaLauncher(Path file, String main) {
        StringBuilder sb = new StringBuilder("#!/bin/sh\nexec");
        for (String a : MpiRun.java(List.of(), main)) {
            sb.append(" '").append(a.replace("'", "'\\''")).append('\'');
        }
        sb.append(" \"$@\"\n");
        try {
            Files.writeString(file, sb.toString());
            if (!file.toFile().setExecutable(true)) {
                throw new IOException("cannot make " + file + " executable");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    /** Stops the cluster and removes its folder (scripts/slurm-local.sh down). */
    @Override
    public void close() throws InterruptedException {
        Path log;
        try {
            log = Files.createTempFile("slurm-down", ".log");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ProcessBuilder pb = new ProcessBuilder(root.resolve("scripts/slurm-local.sh").toString(), "down",
                env.get("RESFLOW_SLURM_DIR")).directory(root.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        int code = waitFor(start(pb), 2, "slurm-local.sh down", log);
        String text = MpiRun.read(log);
        try {
            Files.deleteIfExists(log);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (code != 0 || Files.exists(Path.of(env.get("RESFLOW_SLURM_DIR")))) {
            throw new AssertionError("slurm-local.sh down failed (exit " + code + "): " + text);
        }
    }

    private static Process start(ProcessBuilder pb) {
        try {
            return pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int waitFor(Process p, int minutes, String what, Path log) throws InterruptedException {
        if (!p.waitFor(minutes, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
            throw new AssertionError(what + " did not finish in " + minutes + " minutes: " + MpiRun.read(log));
        }
        return p.exitValue();
    }
}
