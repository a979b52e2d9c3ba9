package io.resflow.tornado;

import io.resflow.model.RuntimeFailure;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import uk.ac.manchester.tornado.api.TornadoProfilerResult;

/**
 * Proof that a task graph really ran on the device. TornadoVM has two silent failure modes: a task it cannot compile
 * runs as plain Java (unless -Dtornado.recover.bailout=False), and a launch the driver rejects (e.g. OpenCL -54, a
 * global size that is not a multiple of the local size) only prints a line and leaves the outputs untouched. Both
 * leave a device kernel time of 0 in the profiler (the plan must run withProfiler), per graph and per task.
 *
 * <p>A graph's profile log grows by one entry per task and execution, so each check reads only what was appended
 * since the previous one.
 */
final class DeviceChecks {
    private static final Pattern TASK_TIME =
            Pattern.compile("\"([\\w-]+\\.[\\w-]+)\": \\{[^{}]*?\"TASK_KERNEL_TIME\": \"(-?\\d+)\"");

    private final String device;
    private final Map<String, Integer> seen = new HashMap<>();

    DeviceChecks(String device) {
        this.device = device;
    }

    /**
     * Throws {@link RuntimeFailure} naming the graph unless its kernels ran on the device in this execution; with
     * {@code perTask} every task is checked on its own, and the tasks' times are returned (else an empty map).
     */
    Map<String, Long> requireRan(String graph, TornadoProfilerResult prof, boolean perTask) {
        if (prof.getDeviceKernelTime() <= 0) {
            throw new RuntimeFailure("TornadoVM graph '" + graph + "' did not run on device " + device
                    + " (device kernel time 0: a fallback to Java or a failed launch)");
        }
        Map<String, Long> times = new LinkedHashMap<>();
        if (!perTask) {
            return times;
        }
        String log = prof.getProfileLog();
        if (log == null) {
            log = "";
        }
        int from = Math.max(0, Math.min(seen.getOrDefault(graph, 0), log.length()) - 64);
        Matcher m = TASK_TIME.matcher(log).region(from, log.length());
        while (m.find()) {
            times.put(m.group(1), Long.parseLong(m.group(2)));
        }
        seen.put(graph, log.length());
        if (times.isEmpty()) {
            throw new RuntimeFailure("TornadoVM graph '" + graph + "': the profile has no per-task kernel times");
        }
        for (var e : times.entrySet()) {
            if (e.getValue() <= 0) {
                throw new RuntimeFailure("TornadoVM task '" + e.getKey() + "' of graph '" + graph
                        + "' did not run on device " + device
                        + " (kernel time 0: a fallback to Java or a failed launch)");
            }
        }
        return times;
    }
}
