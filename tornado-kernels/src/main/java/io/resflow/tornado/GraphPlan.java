package io.resflow.tornado;

import io.resflow.model.BadInputException;
import io.resflow.model.RuntimeFailure;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.TornadoProfilerResult;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.ProfilerMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoBailoutRuntimeException;
import uk.ac.manchester.tornado.api.exceptions.TornadoOutOfMemoryException;

/**
 * One TornadoVM execution plan: builds the task graphs from their {@link GraphSpec}s, links each graph to the shared
 * buffers, and executes graphs by name with the device checks. It knows nothing of the model: which graphs exist and
 * what they compute is the caller's.
 *
 * <p>Owns: the {@link TornadoExecutionPlan}, the graph index, which graphs have run, the per-execution checks
 * ({@link DeviceChecks}: a graph whose device kernel time reads 0 throws {@link RuntimeFailure}; the first execution
 * of each graph, and every one in strict mode, checks each task's own time), the bytes moved between host and device,
 * and (with {@code -Dresflow.tornado.profile=true}) device time per task.
 *
 * <p>On oclgrind's simulator ({@link Oclgrind}) every execution is also followed by a look at the simulator's report
 * file: anything it reported (an out-of-bounds access, a data race, an uninitialised value, barrier divergence, an
 * API error) fails the graph with {@link RuntimeFailure}.
 *
 * <p>Linking: TornadoVM links a graph's consumed buffers to those of the graph executed just before it, so the first
 * spec is the owner graph (it holds every shared buffer) and runs right before each other graph's first execution.
 */
final class GraphPlan implements AutoCloseable {
    private static final boolean TRACE = Boolean.getBoolean("resflow.tornado.trace");
    static final boolean PROFILE = Boolean.getBoolean("resflow.tornado.profile");

    private final TornadoDevice device;
    private final boolean strict;
    private final long deviceBytes;
    private final DeviceChecks checks;
    /** oclgrind's reports, when the device is the simulator; else null. */
    private final Oclgrind.Log simulatorLog;
    private final Map<String, Integer> graphIndex = new LinkedHashMap<>();
    private final Map<String, Integer> taskCount = new LinkedHashMap<>();
    private final Set<String> executed = new HashSet<>();
    private final Map<String, Long> taskTime = new TreeMap<>();
    private final String owner;
    private TornadoExecutionPlan plan;
    private long bytesIn;
    private long bytesOut;

    /**
     * @param specs every graph of the plan, the owner graph first
     * @param shared the buffers the owner graph holds (every other graph consumes them)
     * @param deviceBytes the bytes the session's buffers need on the device, for the out-of-memory message
     */
    GraphPlan(TornadoDevice device, boolean strict, List<GraphSpec> specs, Collection<Object> shared,
            long deviceBytes) {
        this.device = device;
        this.strict = strict;
        this.deviceBytes = deviceBytes;
        this.checks = new DeviceChecks(device.getDeviceName());
        this.simulatorLog = Oclgrind.is(device) ? new Oclgrind.Log(Oclgrind.logPath()) : null;
        this.owner = specs.getFirst().name;
        Set<Object> sharedSet = Collections.newSetFromMap(new IdentityHashMap<>());
        sharedSet.addAll(shared);
        GridScheduler grid = new GridScheduler();
        ImmutableTaskGraph[] graphs = new ImmutableTaskGraph[specs.size()];
        for (int i = 0; i < specs.size(); i++) {
            GraphSpec s = specs.get(i);
            graphs[i] = s.build(sharedSet, specs, i == 0).snapshot();
            s.grids().forEach(grid::addWorkerGrid);
            taskCount.put(s.name, s.taskCount());
            if (graphIndex.put(s.name, i) != null) {
                throw new IllegalStateException("two graphs named " + s.name);
            }
        }
        plan = new TornadoExecutionPlan(graphs);
        plan.withDevice(device).withGridScheduler(grid).withProfiler(ProfilerMode.SILENT);
    }

    /** Executes one graph (after the owner graph when it is its first execution) and checks that it ran. */
    TornadoExecutionResult run(String graph) {
        Integer index = graphIndex.get(graph);
        if (index == null) {
            throw new IllegalArgumentException("no graph named " + graph);
        }
        boolean first = executed.add(graph);
        if (first && index != 0) {
            // link this graph's buffers to the owner's: TornadoVM links from the graph executed just before
            run(owner);
        }
        if (TRACE) {
            System.err.println("[resflow-tornado] execute " + graph + (first ? " (first)" : ""));
        }
        TornadoExecutionResult result;
        try {
            result = plan.withGraph(index).execute();
        } catch (TornadoOutOfMemoryException e) {
            throw new BadInputException(String.format(Locale.ROOT,
                    "the model does not fit the device memory TornadoVM allows on %s (%s, %.1f GiB of buffers): use a "
                            + "smaller batch, sequence or model, or raise -Dtornado.device.memory (default 4GB)",
                    device.getDeviceName(),
                    e.getMessage().replaceAll("\\u001B\\[[0-9;]*m", "").replaceAll("\\s+", " ").strip(),
                    deviceBytes / 1073741824.0), e);
        } catch (RuntimeException e) {
            String sim = simulatorLog == null ? "" : simulatorLog.fresh().strip();
            // a graph too large for TornadoVM's bytecode buffer ends in a bailout too (with the recover option off)
            String hint = e instanceof TornadoBailoutRuntimeException
                    ? " (the graph has " + taskCount.get(graph) + " tasks: if that overflowed TornadoVM's bytecode "
                            + "buffer, raise -Dtornado.tvm.maxbytecodesize, default 4096; the resflow launcher "
                            + "passes 262144)"
                    : "";
            throw new RuntimeFailure("TornadoVM graph '" + graph + "' failed on " + device.getDeviceName() + ": " + e
                    + hint + (sim.isEmpty() ? "" : "\noclgrind reported:\n" + sim), e);
        }
        if (simulatorLog != null) {
            simulatorLog.requireClean("TornadoVM graph '" + graph + "' on " + device.getDeviceName());
        }
        TornadoProfilerResult prof = result.getProfilerResult();
        Map<String, Long> times = checks.requireRan(graph, prof, first || strict || PROFILE);
        if (PROFILE) {
            times.forEach((task, ns) -> taskTime.merge(task, ns, Long::sum));
        }
        bytesIn += prof.getTotalBytesCopyIn();
        bytesOut += prof.getTotalBytesCopyOut();
        return result;
    }

    /** Like {@link #run} but leaves the byte counters as they were (copies the caller asked for explicitly). */
    TornadoExecutionResult runUncounted(String graph) {
        long in = bytesIn;
        long out = bytesOut;
        TornadoExecutionResult r = run(graph);
        bytesIn = in;
        bytesOut = out;
        return r;
    }

    /** Bytes copied {in, out} since the last {@link #resetBytes()}. */
    long[] bytes() {
        return new long[] {bytesIn, bytesOut};
    }

    void resetBytes() {
        bytesIn = 0;
        bytesOut = 0;
    }

    String deviceName() {
        return device.getDeviceName();
    }

    /** Device kernel time per task summed over this plan's executions (with -Dresflow.tornado.profile=true). */
    Map<String, Long> taskKernelTimes() {
        return Collections.unmodifiableMap(taskTime);
    }

    @Override
    public void close() {
        if (plan != null) {
            try {
                plan.close();
            } catch (Exception e) {
                throw new RuntimeFailure("closing the TornadoVM plan failed: " + e, e);
            } finally {
                plan = null;
            }
        }
    }
}
