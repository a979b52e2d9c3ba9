package io.resflow.cli;

import io.resflow.engine.BackendProvider;
import io.resflow.engine.Backends;
import io.resflow.engine.DeviceInfo;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;

/** {@code resflow devices}: every backend and device this installation can run on. */
@Command(name = "devices", mixinStandardHelpOptions = true,
        description = "Lists the JVM backends and every TornadoVM device (when the TornadoVM module and SDK are present).")
final class DevicesCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.printf("%-16s %-8s %-40s %s%n", "backend", "kind", "name", "detail");
        boolean tornado = false;
        for (BackendProvider p : Backends.providers()) {
            tornado |= p.name().equals("tornado");
            for (DeviceInfo d : p.devices()) {
                out.printf("%-16s %-8s %-40s %s%n", d.spec(), d.kind(), d.name(), d.detail());
            }
        }
        if (!tornado) {
            out.println("(TornadoVM: not loaded; install an SDK and set TORNADOVM_HOME or use /opt/tornadovm, see README)");
        }
        out.println("auto -> " + Backends.resolve("auto").id());
        return Main.OK;
    }
}
