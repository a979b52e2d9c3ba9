package io.resflow.cli;

import io.resflow.cli.options.ResflowCommand;

import io.resflow.engine.BackendProvider;
import io.resflow.engine.Backends;
import io.resflow.engine.DeviceInfo;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code resflow devices}: every backend and device this installation can run on. */
@Command(name = "devices", mixinStandardHelpOptions = true,
        description = "Lists the JVM backends and every TornadoVM device (when the TornadoVM module and SDK are present).")
final class DevicesCommand extends ResflowCommand {

    @Override
    protected int run(PrintWriter out) {
        out.printf("%-16s %-8s %-40s %s%n", "backend", "kind", "name", "detail");
        boolean tornado = false;
        for (BackendProvider p : Backends.providers()) {
            tornado |= p.name().equals("tornado");
            for (DeviceInfo d : p.devices()) {
                out.printf("%-16s %-8s %-40s %s%n", d.spec(), d.kind(), d.name(), d.detail());
            }
        }
        if (!tornado) {
            out.println(tornadoNote(System.getenv()));
        }
        out.println("auto -> " + Backends.resolve("auto").id());
        return Main.OK;
    }

    /**
     * Why the TornadoVM backend is not there, for the environment the launcher ran in: an SDK is looked for where
     * the launcher looks ({@code TORNADOVM_HOME}, else /opt/tornadovm), and {@code RESFLOW_NO_TORNADO=1} turns it off.
     */
    static String tornadoNote(Map<String, String> env) {
        String home = env.get("TORNADOVM_HOME");
        Path sdk = Path.of(home != null && !home.isBlank() ? home : "/opt/tornadovm");
        boolean installed = Files.isRegularFile(sdk.resolve("tornado-argfile"));
        if ("1".equals(env.get("RESFLOW_NO_TORNADO"))) {
            return installed ? "(TornadoVM: the SDK at " + sdk + " is not used because RESFLOW_NO_TORNADO=1)"
                    : "(TornadoVM: not used because RESFLOW_NO_TORNADO=1; no SDK at " + sdk + " either)";
        }
        if (installed) {
            return "(TornadoVM: an SDK is installed at " + sdk + " but the tornado backend is not loaded: start resflow "
                    + "with ./resflow, which builds the tornado-kernels module and starts Java with the SDK's tornado-argfile)";
        }
        return "(TornadoVM: not loaded; install an SDK and set TORNADOVM_HOME or use /opt/tornadovm, see README)";
    }
}
