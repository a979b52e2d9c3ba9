package io.resflow.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proof that Jazzer instruments this project's (Java 25) class files: fuzzing {@link PlantedBugFuzzTarget} in a child
 * JVM must find the bug behind its 4-byte magic within the time limit. A fuzzer that cannot read the class files runs
 * blind and never finds it (chance 2^-32 per input), so this test fails instead of passing quietly. Its findings and
 * corpus go to a temporary folder (jazzer.internal.basedir), not into the source tree.
 */
class FuzzerSeesCoverageTest {
    @TempDir
    Path tmp;

    @Test
    void theFuzzerFindsTheBugBehindAFourByteMagic() throws Exception {
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+EnableDynamicAgentLoading", "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-Djazzer.internal.basedir=" + tmp,
                "-Djazzer.max_duration=90s", "-cp", System.getProperty("java.class.path"), FuzzCampaign.class.getName(),
                PlantedBugFuzzTarget.class.getName() + "#planted(byte[])");
        Path log = tmp.resolve("fuzz.log");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().put("JAZZER_FUZZ", "1");
        Process p = pb.start();
        if (!p.waitFor(4, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("the fuzzer did not end: " + read(log));
        }
        String out = read(log);
        assertEquals(1, p.exitValue(), out);
        assertTrue(out.contains("INFO: Instrumented io.resflow.fuzz.PlantedBug "), "Jazzer instrumented the target\n" + out);
        assertTrue(out.contains("FuzzTestFindingException: java.lang.IllegalStateException: planted bug reached: magic RFLW"),
                "the fuzzer found the planted bug\n" + out);
        try (var s = Files.list(tmp)) {
            assertTrue(s.anyMatch(f -> f.getFileName().toString().startsWith("crash-")), "the finding was written");
        }
    }

    private static String read(Path f) throws IOException {
        return Files.exists(f) ? Files.readString(f) : "(no output)";
    }
}
