package io.resflow.jvm;

import io.resflow.engine.Backend;
import io.resflow.engine.BackendProvider;
import io.resflow.engine.DeviceInfo;
import io.resflow.model.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Registers the {@code jvm} backend. Spec: {@code jvm} (all cores) or {@code jvm:<threads>}.
 */
public final class JvmBackendProvider implements BackendProvider {

    @Override
    public String name() {
        return "jvm";
    }

    @Override
    public Backend create(String args) {
        if (args == null || args.isEmpty()) {
            return new JvmBackend();
        }
        try {
            int threads = Integer.parseInt(args.trim());
            if (threads < 1) {
                throw new NumberFormatException();
            }
            return new JvmBackend(threads);
        } catch (NumberFormatException e) {
            throw new BadInputException("jvm backend: expected 'jvm' or 'jvm:<threads>' with threads >= 1, got 'jvm:"
                    + args + "'");
        }
    }

    @Override
    public List<DeviceInfo> devices() {
        String detail = JvmOps.describe(Runtime.getRuntime().availableProcessors());
        return List.of(new DeviceInfo("jvm", "cpu", cpuModel(), detail));
    }

    @Override
    public int autoRank() {
        return 10;
    }

    /** The CPU model from /proc/cpuinfo (Linux), else os.arch. */
    static String cpuModel() {
        Path p = Path.of("/proc/cpuinfo");
        if (Files.isReadable(p)) {
            try (Stream<String> lines = Files.lines(p)) {
                var name = lines.filter(l -> l.startsWith("model name")).findFirst();
                if (name.isPresent()) {
                    int colon = name.get().indexOf(':');
                    String v = name.get().substring(colon + 1).trim();
                    if (!v.isEmpty()) {
                        return v;
                    }
                }
            } catch (IOException | RuntimeException e) {
                // fall through
            }
        }
        return System.getProperty("os.arch", "cpu");
    }
}
