package io.resflow.tornado;

import io.resflow.model.RuntimeFailure;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import uk.ac.manchester.tornado.api.TornadoProfilerResult;

/**
 * Proof that a task graph really ran on the device. TornadoVM has two silent failure modes: a task it cannot compile
 * runs as plain Java (unless -Dtornado.recover.bailout=False), and a launch the driver rejects (e.g. OpenCL -54, a
 * global size that is not a multiple of the local size) only prints a line and leaves the outputs untouched. Both
 * leave a device kernel time of 0 in the profiler (the plan must run withProfiler), per graph and per task.
 */
final class DeviceChecks {
    private static final Pattern TASK_TIME =
            Pattern.compile("\"([\\w-]+\\.[\\w-]+)\": \\{[^{}]*?\"TASK_KERNEL_TIME\": \"(-?\\d+)\"");

    private DeviceChecks() {
    }

    /**
     * Throws {@link RuntimeFailure} naming the graph (and the task, when {@code perTask}) unless every kernel ran on
     * the device.
     */
    static void requireRan(String graph, TornadoProfilerResult prof, String device, boolean perTask) {
        if (prof.getDeviceKernelTime() <= 0) {
            throw new RuntimeFailure("TornadoVM graph '" + graph + "' did not run on device " + device
                    + " (device kernel time 0: a fallback to Java or a failed launch)");
        }
        if (!perTask) {
            return;
        }
        String log = prof.getProfileLog();
        Matcher m = TASK_TIME.matcher(log == null ? "" : log);
        int tasks = 0;
        while (m.find()) {
            tasks++;
            if (Long.parseLong(m.group(2)) <= 0) {
                throw new RuntimeFailure("TornadoVM task '" + m.group(1) + "' of graph '" + graph
                        + "' did not run on device " + device + " (kernel time 0: a fallback to Java or a failed launch)");
            }
        }
        if (tasks == 0) {
            throw new RuntimeFailure("TornadoVM graph '" + graph + "': the profile has no per-task kernel times");
        }
    }

    /** Adds each task's kernel time in this execution to {@code into} (for -Dresflow.tornado.profile). */
    static void addTaskTimes(TornadoProfilerResult prof, java.util.Map<String, Long> into) {
        String log = prof.getProfileLog();
        Matcher m = TASK_TIME.matcher(log == null ? "" : log);
        while (m.find()) {
            into.merge(m.group(1), Long.parseLong(m.group(2)), Long::sum);
        }
    }
}
