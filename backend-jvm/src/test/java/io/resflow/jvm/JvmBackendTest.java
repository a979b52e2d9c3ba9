package io.resflow.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.check.CheckReport;
import io.resflow.check.VectorCheck;
import io.resflow.engine.Backend;
import io.resflow.engine.BackendProvider;
import io.resflow.engine.Backends;
import io.resflow.engine.DeviceInfo;
import io.resflow.model.BadInputException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Service registration, backend specs, and the repository's test vectors on the jvm backend. */
class JvmBackendTest {

    @Test
    void providerIsRegistered() {
        BackendProvider p = ServiceLoader.load(BackendProvider.class).stream().map(ServiceLoader.Provider::get)
                .filter(x -> x.name().equals("jvm")).findFirst().orElseThrow();
        assertEquals(10, p.autoRank());
        assertFalse(p.hasAccelerator());
        List<DeviceInfo> devices = p.devices();
        assertEquals(1, devices.size());
        DeviceInfo d = devices.get(0);
        assertEquals("jvm", d.spec());
        assertEquals("cpu", d.kind());
        assertFalse(d.name().isBlank());
        assertTrue(d.detail().contains("threads") && d.detail().contains("lanes"), d.detail());
    }

    /** The width a Surefire execution forces (-XX:MaxVectorSize) is the one the kernels get, so that run is not void. */
    @Test
    void forcedVectorWidthTakesEffect() {
        int bytes = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorByteSize();
        System.out.println("jvm tests: FloatVector " + 8 * bytes + "-bit");
        for (String a : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("-XX:MaxVectorSize=")) {
                int forced = Integer.parseInt(a.substring(a.indexOf('=') + 1));
                assertEquals(forced, bytes, "vector width with " + a);
            }
        }
    }

    @Test
    void specs() {
        Backend b = Backends.resolve("jvm");
        assertInstanceOf(JvmBackend.class, b);
        assertEquals("jvm", b.id());
        assertEquals(3, ((JvmBackend) Backends.resolve("jvm:3")).threads());
        assertThrows(BadInputException.class, () -> Backends.resolve("jvm:x"));
        assertThrows(BadInputException.class, () -> Backends.resolve("jvm:0"));
        assertTrue(b.description().contains("FloatVector"), b.description());
    }

    /** The README's budget for float32 backends is 1e-3; the jvm backend meets the reference's 1e-4. */
    @TestFactory
    Stream<DynamicTest> testVectors() throws IOException {
        List<Path> dirs = io.resflow.check.TestVectors.folders(Path.of("..", "testvectors"));
        assertFalse(dirs.isEmpty(), "no test-vector folders found");
        return dirs.stream().map(dir -> DynamicTest.dynamicTest(dir.getFileName().toString(), () -> {
            CheckReport r = VectorCheck.run(dir, new JvmBackend(2), 1e-4);
            assertTrue(r.passed(), r.summary() + "\n" + r.table());
            assertTrue(r.rows().size() > 10, "too few tensors compared: " + r.rows().size());
        }));
    }
}
