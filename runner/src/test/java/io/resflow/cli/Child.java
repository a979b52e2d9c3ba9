package io.resflow.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.mpi.MpiRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** The CLI in a child JVM (for what needs a separate process: locks, kills, resource limits, the environment). */
final class Child {
    private Child() {
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** {@code java --add-modules jdk.incubator.vector -cp <the test class path> io.resflow.cli.Main args...}. */
    static List<String> command(Object... args) {
        List<String> c = new ArrayList<>(List.of(java(), "--add-modules", "jdk.incubator.vector", "-cp",
                System.getProperty("java.class.path"), "io.resflow.cli.Main"));
        for (Object a : args) {
            c.add(a.toString());
        }
        return c;
    }

    /** Starts the command with stdout and stderr going to {@code log}. */
    static Process start(List<String> command, Map<String, String> env, Path log) {
        return MpiRun.start(command, env, log);
    }

    /** Runs the command to its end (at most 3 minutes) and returns its exit code; the output is in {@code log}. */
    static int run(List<String> command, Map<String, String> env, Path log) throws InterruptedException {
        Process p = start(command, env, log);
        if (!p.waitFor(3, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("child did not finish in 3 minutes: " + read(log));
        }
        return p.exitValue();
    }

    /** Waits until {@code done} holds while the child is alive (at most two minutes). */
    static void await(Process p, Path log, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (!done.getAsBoolean()) {
            assertTrue(p.isAlive(), () -> "child ended early: " + read(log));
            assertTrue(System.nanoTime() < deadline, () -> "timed out waiting for the child: " + read(log));
            Thread.sleep(10);
        }
    }

    static void kill(Process p) throws InterruptedException {
        p.destroyForcibly(); // SIGKILL
        p.waitFor(30, TimeUnit.SECONDS);
    }

    static String read(Path f) {
        return MpiRun.read(f);
    }

    /** Complete JSON lines in a metrics file (a line cut short by a kill does not count). */
    static int lines(Path metrics) {
        try {
            return Files.exists(metrics) ? (int) Files.readString(metrics).lines().filter(l -> l.endsWith("}")).count() : 0;
        } catch (IOException e) {
            return 0;
        }
    }
}
