package io.resflow.mpi;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Test helper: Open MPI's {@code mpirun} from the PATH, started as {@code mpirun --oversubscribe
 * --allow-run-as-root -np N java ... -cp <test class path> MAIN args}. Tests that need it call {@link #require()},
 * which prints a line and skips the test when Open MPI is not installed (CI's {@code .ci/run} installs it).
 */
public final class MpiRun {
    private MpiRun() {
    }

    /** The mpirun on the PATH, or null. */
    public static Path mpirun() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, "mpirun");
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    /** Skips the calling test (with a printed line) when Open MPI's mpirun is not installed. */
    public static Path require() {
        Path m = mpirun();
        String why = missing();
        if (why != null) {
            System.out.println("SKIPPED (Open MPI not installed: " + why
                    + "; apt-get install openmpi-bin libopenmpi-dev, as .ci/run does)");
        }
        Assumptions.assumeTrue(why == null, "Open MPI not installed: " + why);
        return m;
    }

    /** Why Open MPI cannot be used (no mpirun, or another MPI's), or null when it can. */
    public static String missing() {
        Path m = mpirun();
        return m == null ? "no mpirun on the PATH" : openMpi(m) ? null : m + " is not Open MPI's mpirun";
    }

    private static boolean openMpi(Path mpirun) {
        try {
            Process p = new ProcessBuilder(mpirun.toString(), "--version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            p.waitFor(30, TimeUnit.SECONDS);
            return out.contains("Open MPI");
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** {@code mpirun --oversubscribe --allow-run-as-root -np n}, then the JVM and its class path, main and args. */
    public static List<String> command(int n, List<String> jvmOptions, String main, Object... args) {
        List<String> c = new ArrayList<>(List.of(require().toString(), "--oversubscribe", "--allow-run-as-root",
                "-np", Integer.toString(n)));
        c.addAll(java(jvmOptions, main));
        for (Object a : args) {
            c.add(a.toString());
        }
        return c;
    }

    /** The JVM of one rank: this test JVM's java and class path, the rank's options, then {@code main}. */
    public static List<String> java(List<String> jvmOptions, String main) {
        List<String> c = new ArrayList<>();
        c.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // tiny models: C1 only and the serial collector start faster and leave the cores to the other rank
        c.addAll(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
        c.addAll(jvmOptions);
        c.addAll(List.of("-cp", System.getProperty("java.class.path"), main));
        return c;
    }

    /** Result of a finished command: exit code and the merged output of every rank and of mpirun. */
    public record Result(int code, String output) {
    }

    /** Runs to the end (at most {@code minutes}) with extra environment variables; the output goes to {@code log}. */
    public static Result run(List<String> command, Map<String, String> env, Path log, int minutes)
            throws InterruptedException {
        Process p = start(command, env, log);
        if (!p.waitFor(minutes, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
            throw new AssertionError("mpirun did not finish in " + minutes + " minutes: " + read(log));
        }
        return new Result(p.exitValue(), read(log));
    }

    public static Process start(List<String> command, Map<String, String> env, Path log) {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        try {
            return pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static String read(Path f) {
        try {
            return Files.exists(f) ? Files.readString(f) : "(no output)";
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }
}
