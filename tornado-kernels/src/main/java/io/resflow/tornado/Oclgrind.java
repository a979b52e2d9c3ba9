package io.resflow.tornado;

import io.resflow.model.RuntimeFailure;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import uk.ac.manchester.tornado.api.common.TornadoDevice;

/**
 * Oclgrind, the OpenCL work-item simulator, as a TornadoVM device (through the ICD shim in {@code src/main/c}, with
 * {@code RESFLOW_OCLGRIND=1}): how to recognise it, and its reports.
 *
 * <p>Oclgrind runs every work-item on its own and reports out-of-bounds accesses, data races, barrier divergence,
 * API errors and (opt-in, OCLGRIND_UNINITIALIZED=1) uses of uninitialised values; the shim switches the checks on.
 * It reports to the file {@code OCLGRIND_LOG} and carries on, so a graph with a race would still "pass". A
 * {@link Log} turns every report into a failure: {@link GraphPlan} reads what was appended after each graph it
 * executes there.
 *
 * <p>The simulator is for correctness, not speed (it interprets every work-item): {@code auto} never picks it
 * ({@link TornadoBackendProvider#hasAccelerator()}).
 */
final class Oclgrind {
    private Oclgrind() {
    }

    /** TornadoVM's property naming where an accelerator's kernel sources are written, below TORNADOVM_HOME. */
    static final String SOURCE_DIR_PROPERTY = "tornado.opencl.source.dir";

    /**
     * Points TornadoVM's kernel-source dump for accelerator devices at {@code RESFLOW_OCLGRIND_LOG_DIR/../kernels};
     * call before TornadoVM's runtime starts. The shim reports oclgrind as CL_DEVICE_TYPE_ACCELERATOR (a GPU would be
     * ordered before PoCL and take tornado:0:0), and TornadoVM 5.2 treats every accelerator as an FPGA: it writes each
     * kernel's OpenCL source to {@code $TORNADOVM_HOME + tornado.opencl.source.dir + /device-P-D/} (default
     * {@code /var/opencl-compiler}), a string concatenation, so with TORNADOVM_HOME unset it wrote a folder named
     * {@code null/} into the working directory, and with it set it would write into the SDK. The sources are useful
     * beside oclgrind's report (its messages name the kernel and the line), so they go next to it.
     * Does nothing when oclgrind is not registered (RESFLOW_OCLGRIND_LOG_DIR unset) or the property is already set.
     */
    static void redirectKernelSources() {
        String logDir = System.getenv("RESFLOW_OCLGRIND_LOG_DIR");
        if (logDir == null || logDir.isEmpty() || System.getProperty(SOURCE_DIR_PROPERTY) != null) {
            return;
        }
        Path target = Path.of(logDir).toAbsolutePath().normalize().resolveSibling("kernels");
        String home = System.getenv("TORNADOVM_HOME");
        // TornadoVM resolves String.valueOf(home) + dir: climb from there to the root, then down to the target
        Path base = Path.of(String.valueOf(home)).toAbsolutePath().normalize();
        if (!Files.isDirectory(base)) {
            throw new RuntimeFailure("RESFLOW_OCLGRIND_LOG_DIR is set but TORNADOVM_HOME (" + home + ") is not a "
                    + "folder: TornadoVM writes the simulator's kernel sources below it (export TORNADOVM_HOME)");
        }
        String dir = "/" + "../".repeat(base.getNameCount()) + target.toString().substring(1);
        System.setProperty(SOURCE_DIR_PROPERTY, dir);
    }

    /** Whether the device is oclgrind's simulator. */
    static boolean is(TornadoDevice device) {
        String name = device.getPhysicalDevice().getDeviceName();
        return name != null && name.startsWith("Oclgrind");
    }

    /**
     * The file oclgrind reports to in this process: {@code OCLGRIND_LOG}, else where the shim puts it when that is
     * unset ({@code $RESFLOW_OCLGRIND_LOG_DIR}, else {@code $TMPDIR}, else {@code /tmp}, then
     * {@code oclgrind-<pid>.log}).
     */
    static Path logPath() {
        String log = System.getenv("OCLGRIND_LOG");
        if (log != null && !log.isEmpty()) {
            return Path.of(log);
        }
        String dir = System.getenv("RESFLOW_OCLGRIND_LOG_DIR");
        if (dir == null || dir.isEmpty()) {
            dir = System.getenv("TMPDIR");
        }
        if (dir == null || dir.isEmpty()) {
            dir = "/tmp";
        }
        return Path.of(dir, "oclgrind-" + ProcessHandle.current().pid() + ".log");
    }

    /** Reads the reports oclgrind appended since the previous check (or since it was created). */
    static final class Log {
        private static final int SHOWN = 4000;
        private final Path path;
        private long offset;

        Log(Path path) {
            this.path = path;
            this.offset = size();
        }

        private long size() {
            try {
                return Files.exists(path) ? Files.size(path) : 0;
            } catch (IOException e) {
                return 0;
            }
        }

        /** The text appended since the last call (empty when none). */
        String fresh() {
            long end = size();
            if (end <= offset) {
                offset = Math.min(offset, end);
                return "";
            }
            try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "r")) {
                f.seek(offset);
                byte[] b = new byte[(int) Math.min(end - offset, 1 << 20)];
                f.readFully(b);
                offset = end;
                return new String(b, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new RuntimeFailure("cannot read oclgrind's report file " + path + ": " + e, e);
            }
        }

        /** Throws {@link RuntimeFailure} naming {@code what} when oclgrind reported anything since the last check. */
        void requireClean(String what) {
            String text = fresh().strip();
            if (!text.isEmpty()) {
                String first = text.lines().filter(l -> !l.isBlank()).findFirst().orElse("");
                throw new RuntimeFailure("oclgrind reported a problem in " + what + ": " + first + " (full report in "
                        + path + ")\n" + (text.length() > SHOWN ? text.substring(0, SHOWN) + "\n..." : text));
            }
        }

        Path path() {
            return path;
        }
    }
}
