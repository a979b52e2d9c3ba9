package io.resflow.check;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.reference.ReferenceBackend;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** The reference reproduces every test-vector folder in the repository with eps 1e-4. */
class ReferenceTestVectorsTest {

    @TestFactory
    Stream<DynamicTest> referencePassesEveryFolder() throws IOException {
        List<Path> dirs = TestVectors.folders(Path.of("..", "testvectors"));
        assertFalse(dirs.isEmpty(), "no test-vector folders found");
        return dirs.stream().map(dir -> DynamicTest.dynamicTest(dir.getFileName().toString(), () -> {
            CheckReport r = VectorCheck.run(dir, new ReferenceBackend(), 1e-4);
            assertTrue(r.passed(), r.summary() + "\n" + r.table());
            assertTrue(r.rows().size() > 10, "too few tensors compared: " + r.rows().size());
        }));
    }
}
