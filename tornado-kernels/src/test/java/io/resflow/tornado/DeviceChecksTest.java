package io.resflow.tornado;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.model.RuntimeFailure;
import io.resflow.tornado.kernels.Args;
import io.resflow.tornado.kernels.MemoryKernels;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoProfilerResult;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.enums.ProfilerMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The silent failure the session guards against, provoked on purpose: a launch whose global size (100) is not a
 * multiple of its local size (16) is rejected by the OpenCL driver, which prints an error and returns normally with
 * the output untouched. The device check must turn that into an exception naming the graph, and the native stdout
 * capture the tests rely on must see the driver's line.
 */
class DeviceChecksTest {

    private static TornadoProfilerResult runZero(String name, int global, int local) {
        FloatArray x = new FloatArray(100);
        x.init(1f);
        IntArray m = Args.of(0, 100);
        TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, x, m)
                .task("zero", MemoryKernels::zero, new KernelContext(), x, m)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, x);
        WorkerGrid1D grid = new WorkerGrid1D(global);
        grid.setLocalWork(local, 1, 1);
        try (TornadoExecutionPlan plan = new TornadoExecutionPlan(tg.snapshot())) {
            return plan.withGridScheduler(new GridScheduler(name + ".zero", grid)).withProfiler(ProfilerMode.SILENT)
                    .execute().getProfilerResult();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void paddedLaunchPasses() {
        TornadoProfilerResult prof = runZero("padded", 112, 16);
        assertDoesNotThrow(() -> new DeviceChecks("test device").requireRan("padded", prof, true));
    }

    @Test
    void rejectedLaunchIsAnError() {
        var run = NativeStdout.capture(() -> runZero("unpadded", 100, 16), false);
        assertFalse(run.errorLines().isEmpty(), "the driver's error line was not captured");
        String first = run.errorLines().getFirst().replace("ERROR", "error");
        System.out.println("provoked and captured as expected: " + first);
        RuntimeFailure e = assertThrows(RuntimeFailure.class,
                () -> new DeviceChecks("test device").requireRan("unpadded", run.value(), true));
        assertTrue(e.getMessage().contains("unpadded"), e.getMessage());
    }
}
