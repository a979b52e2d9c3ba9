package io.resflow.check;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.reference.ReferenceBackend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** The reference reproduces every test-vector folder in the repository with eps 1e-4. */
class ReferenceTestVectorsTest {

    /** Every folder of the repository's testvectors/ that holds a vectors.safetensors. */
    public static List<Path> folders() throws IOException {
        Path root = Path.of("..", "testvectors");
        if (!Files.isDirectory(root)) {
            root = Path.of("testvectors");
        }
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(p -> Files.exists(p.resolve("vectors.safetensors"))).sorted().toList();
        }
    }

    @TestFactory
    Stream<DynamicTest> referencePassesEveryFolder() throws IOException {
        List<Path> dirs = folders();
        assertFalse(dirs.isEmpty(), "no test-vector folders found");
        return dirs.stream().map(dir -> DynamicTest.dynamicTest(dir.getFileName().toString(), () -> {
            CheckReport r = VectorCheck.run(dir, new ReferenceBackend(), 1e-4);
            assertTrue(r.passed(), r.summary() + "\n" + r.table());
            assertTrue(r.rows().size() > 10, "too few tensors compared: " + r.rows().size());
        }));
    }
}
