package io.resflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code resflow devices} says why TornadoVM is not there in the words of the user's environment (issue 11, row 13):
 * with RESFLOW_NO_TORNADO=1 and an SDK installed it does not say "install an SDK". Run in a child JVM with its own
 * environment and a stand-in SDK folder.
 */
class DevicesCommandTest {
    @TempDir
    Path tmp;

    private String devices(Map<String, String> env) throws Exception {
        Path log = tmp.resolve("devices-" + env.hashCode() + ".log");
        assertEquals(0, Child.run(Child.command("devices"), env, log), () -> Child.read(log));
        return Child.read(log);
    }

    @Test
    void saysWhyTornadoIsOff() throws Exception {
        Path sdk = tmp.resolve("sdk");
        Cli.write(sdk.resolve("tornado-argfile"), "# stand-in\n");
        String off = devices(Map.of("RESFLOW_NO_TORNADO", "1", "TORNADOVM_HOME", sdk.toString()));
        assertTrue(off.contains("the SDK at " + sdk + " is not used because RESFLOW_NO_TORNADO=1"), off);
        assertFalse(off.contains("install an SDK"), off);
        String notLoaded = devices(Map.of("TORNADOVM_HOME", sdk.toString()));
        assertTrue(notLoaded.contains("an SDK is installed at " + sdk) && notLoaded.contains("./resflow"), notLoaded);
        String none = devices(Map.of("TORNADOVM_HOME", tmp.resolve("nothing").toString()));
        assertTrue(none.contains("install an SDK"), none);
    }
}
