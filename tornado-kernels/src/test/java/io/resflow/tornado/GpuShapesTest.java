package io.resflow.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.check.CheckReport;
import io.resflow.check.VectorCheck;
import io.resflow.engine.SessionOptions;
import io.resflow.model.BadInputException;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Residual;
import java.io.IOException;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The GPU-shaped kernels ({@code kernels.gpu}) forced on PoCL with {@code -Dresflow.tornado.shapes=gpu}: every oracle
 * folder and the odd shapes of {@link TornadoBackendTest} (T = 13, vocabulary 259, GQA 4/2, MQA 3/1 with head size 6),
 * with the same device checks (strict backend: bailout throws, every task's kernel time must be non-zero; the
 * driver's native stdout must hold no error line). Each session is first asserted to run the GPU shapes.
 */
class GpuShapesTest {
    private static TornadoBackend backend;
    private static String before;

    @BeforeAll
    static void forceGpuShapes() {
        before = System.getProperty(LaunchShapes.SHAPES_PROPERTY);
        System.setProperty(LaunchShapes.SHAPES_PROPERTY, "gpu");
        TornadoBackend def = (TornadoBackend) new TornadoBackendProvider().create("");
        backend = new TornadoBackend(def.id(), def.device(), true);
    }

    @AfterAll
    static void restore() {
        if (before == null) {
            System.clearProperty(LaunchShapes.SHAPES_PROPERTY);
        } else {
            System.setProperty(LaunchShapes.SHAPES_PROPERTY, before);
        }
    }

    private static <T> T clean(String what, java.util.function.Supplier<T> body) {
        NativeStdout.Captured<T> run = NativeStdout.capture(body);
        assertTrue(run.errorLines().isEmpty(), what + ": TornadoVM printed errors: " + run.errorLines());
        return run.value();
    }

    /** A session on the test device runs matmul tiled, flash attention and the column reductions. */
    @Test
    void sessionRunsGpuShapes() {
        ModelConfig c = TornadoBackendTest.llama(2, 32, 4, 2, 8, 44, 259, Residual.PRE, false, 12);
        try (TornadoSession s = backend.open(c, Initializer.init(c), 2, 13, SessionOptions.DEFAULT)) {
            LaunchShapes sh = s.shapes();
            System.out.println(backend.id() + ": " + sh.describe());
            assertTrue(sh.gpu && sh.tiledMatmul() && sh.flashRows > 0 && s.flashAttention(), sh.describe());
        }
    }

    @Test
    void badShapesPropertyIsBadInput() {
        BadInputException e = assertThrows(BadInputException.class,
                () -> new LaunchShapes(backend.device(), 65536, "fast", 8));
        assertEquals("-Dresflow.tornado.shapes=fast: expected auto, cpu or gpu", e.getMessage());
    }

    static Stream<Path> vectorFolders() throws IOException {
        return TornadoBackendTest.vectorFolders();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectorFolders")
    void testVectors(Path dir) {
        CheckReport report = clean(dir.toString(), () -> VectorCheck.run(dir, backend, 1e-3));
        System.out.println(report.summary());
        assertTrue(report.passed(), report.summary() + "\n" + report.table());
    }

    static Stream<Arguments> oddConfigs() {
        return TornadoBackendTest.randomConfigs().filter(a -> {
            String name = (String) a.get()[0];
            return name.contains("GQA") || name.contains("MQA") || name.startsWith("gpt2 post");
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("oddConfigs")
    void matchesReference(String name, ModelConfig c, int batch, int seqLen) {
        ReferenceComparison cmp = clean(name, () -> ReferenceComparison.run(backend, c, batch, seqLen));
        cmp.assertPassed(name);
    }
}
