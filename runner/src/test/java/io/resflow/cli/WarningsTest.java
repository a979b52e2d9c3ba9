package io.resflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No warnings on --help or a normal run (issue 11, row 12): picocli can format every description, and with the
 * launcher's JVM options (scripts/java-options) JLine's native library loads without the JDK's restricted-method
 * warning. The JDK's one-line notice for the incubating Vector API module is the only line allowed: no JVM option
 * removes it.
 */
class WarningsTest {
    @TempDir
    Path tmp;

    /** picocli prints its format warnings when it renders a description: bench --help in a fresh JVM. */
    @Test
    void helpFormatsWithoutPicocliWarnings() throws Exception {
        Path log = tmp.resolve("help.log");
        assertEquals(0, Child.run(Child.command("bench", "--help"), Map.of(), log), () -> Child.read(log));
        String out = Child.read(log);
        assertTrue(out.contains("more than 10%"), out);
        assertFalse(out.contains("picocli WARN") || out.contains("Could not format"), out);
    }

    @Test
    void theLaunchersJvmOptionsLetJlineLoadItsNativeLibraryWithoutWarnings() throws Exception {
        Path options = Cli.ROOT.resolve("scripts/java-options");
        assertTrue(Files.isRegularFile(options), "the launcher's JVM options file");
        assertTrue(Files.readString(Cli.ROOT.resolve("resflow")).contains("@$ROOT/scripts/java-options"),
                "the launcher reads it");
        List<String> cmd = new ArrayList<>(List.of(Child.java(), "@" + options, "-cp", System.getProperty("java.class.path"),
                NativeAccessProbe.class.getName()));
        Path log = tmp.resolve("probe.log");
        assertEquals(0, Child.run(cmd, Map.of(), log), () -> Child.read(log));
        List<String> lines = Files.readAllLines(log);
        assertTrue(lines.contains("probe done"), lines::toString);
        List<String> warnings = lines.stream().filter(l -> l.startsWith("WARNING")).toList();
        assertEquals(List.of("WARNING: Using incubator modules: jdk.incubator.vector"), warnings, () -> String.join("\n", lines));
        assertFalse(lines.stream().anyMatch(l -> l.contains("picocli WARN")), lines::toString); // every command's help
    }
}
