package io.resflow.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.check.CheckReport;
import io.resflow.check.VectorCheck;
import io.resflow.engine.DeviceInfo;
import io.resflow.model.RuntimeFailure;
import io.resflow.tornado.kernels.Args;
import io.resflow.tornado.kernels.MemoryKernels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * oclgrind's work-item simulator as the second TornadoVM device (RESFLOW_OCLGRIND=1: the module's oclgrind profile
 * points OCL_ICD_VENDORS at the shim's vendor folder). Without it these tests are skipped (reported as skipped).
 * The simulator interprets every work-item, so only the tiny oracle folders run here; they run the GPU shapes, which
 * the backend picks for every device that is not a CPU.
 */
class SimulatorTest {
    private static String spec;
    private static TornadoBackend backend;

    @BeforeAll
    static void findSimulator() {
        TornadoBackendProvider p = new TornadoBackendProvider();
        for (DeviceInfo d : p.devices()) {
            if (d.name().startsWith("Oclgrind")) {
                spec = d.spec();
            }
        }
        if (spec != null) {
            TornadoBackend b = (TornadoBackend) p.create(spec.substring("tornado:".length()));
            backend = new TornadoBackend(b.id(), b.device(), true);
        }
    }

    /** Per test, so that each one is reported as skipped without the simulator. */
    @BeforeEach
    void needSimulator() {
        Assumptions.assumeTrue(spec != null, "no oclgrind device (run with RESFLOW_OCLGRIND=1)");
    }

    /** Both devices listed, PoCL first; the simulator is not an accelerator for auto. */
    @Test
    void listedBesidePoclAndNeverAuto() {
        TornadoBackendProvider p = new TornadoBackendProvider();
        List<DeviceInfo> devices = p.devices();
        assertEquals("tornado:0:0", devices.getFirst().spec());
        assertFalse(devices.getFirst().name().startsWith("Oclgrind"), devices.toString());
        assertTrue(devices.stream().anyMatch(d -> d.detail().contains("simulator")), devices.toString());
        assertFalse(p.hasAccelerator(), "auto must not pick the simulator");
    }

    /** A kernel writing past its array: oclgrind reports it, and the report becomes a failure. */
    @Test
    void outOfBoundsWriteIsReportedAndFails() {
        TornadoDevice dev = backend.device();
        Oclgrind.Log log = new Oclgrind.Log(Oclgrind.logPath());
        FloatArray x = new FloatArray(100);
        x.init(1f);
        IntArray m = Args.of(0, 104);
        TaskGraph tg = new TaskGraph("oob").transferToDevice(DataTransferMode.EVERY_EXECUTION, x, m)
                .task("zero", MemoryKernels::zero, new KernelContext(), x, m)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, x);
        WorkerGrid1D grid = new WorkerGrid1D(112);
        grid.setLocalWork(16, 1, 1);
        try (TornadoExecutionPlan plan = new TornadoExecutionPlan(tg.snapshot())) {
            plan.withDevice(dev).withGridScheduler(new GridScheduler("oob.zero", grid)).execute();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        RuntimeFailure e = assertThrows(RuntimeFailure.class, () -> log.requireClean("graph 'oob'"));
        System.out.println("provoked as expected: " + e.getMessage().lines().findFirst().orElse(""));
        assertTrue(e.getMessage().contains("oob"), e.getMessage());
    }

    /**
     * The bf16 kernels (the rounding kernel, the 16-bit weight copy, widening) bit for bit the reference's on the
     * simulator too (TornadoBf16Test's check; the kernels' exact arithmetic under -cl-fast-relaxed-math, as
     * oclgrind's compiler sees it), with oclgrind's checks clean.
     */
    @Test
    void bf16KernelsBitExact() {
        Oclgrind.Log log = new Oclgrind.Log(Oclgrind.logPath());
        log.fresh();
        String bad = TornadoBf16Test.roundingMismatches(backend.device());
        log.requireClean("graph 'bf16'");
        assertTrue(bad.isEmpty(), bad);
    }

    /**
     * A tiny folder's training step in bf16 against the bf16 reference (the rule of TornadoBf16Test): the tiled
     * matmul on the 16-bit weights, flash attention, the rounding tasks, all under oclgrind's checks. Left out with
     * RESFLOW_OCLGRIND_FOLDERS=0, like the fp32 folders (minutes).
     */
    @Test
    void tinyFolderPassesInBf16() {
        Assumptions.assumeFalse("0".equals(System.getenv("RESFLOW_OCLGRIND_FOLDERS")),
                "RESFLOW_OCLGRIND_FOLDERS=0: the simulator's folder checks (minutes each) left out");
        Path dir = Path.of("..", "testvectors", "llama-tiny");
        io.resflow.check.TestVectors tv = VectorCheck.recompute(io.resflow.check.TestVectors.load(dir),
                new io.resflow.reference.ReferenceBackend(), io.resflow.engine.Precision.BF16);
        NativeStdout.Captured<CheckReport> run = NativeStdout.capture(() -> VectorCheck.run(tv, backend, 1e-3,
                TornadoBf16Test.gradEps(tv.config()), io.resflow.engine.Precision.BF16));
        assertTrue(run.errorLines().isEmpty(), "llama-tiny bf16: TornadoVM printed errors: " + run.errorLines());
        CheckReport report = run.value();
        System.out.println(spec + " bf16 " + report.summary());
        assertTrue(report.passed(), report.summary() + "\n" + report.table());
    }

    /**
     * The whole training step of the tiny oracle folders, GPU shapes, oclgrind's checks clean (GraphPlan). The
     * simulator interprets every work-item: each folder takes about 4 minutes on 2 cores (gpt2-tiny 248 s, llama-tiny
     * 214 s through {@code resflow check} on an otherwise idle machine), so {@code RESFLOW_OCLGRIND_FOLDERS=0} leaves
     * them out of a quick run (reported as skipped); {@code .ci/run} (which sets RESFLOW_OCLGRIND=1) runs them.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny"})
    void tinyFolderPasses(String folder) {
        Assumptions.assumeFalse("0".equals(System.getenv("RESFLOW_OCLGRIND_FOLDERS")),
                "RESFLOW_OCLGRIND_FOLDERS=0: the simulator's folder checks (minutes each) left out");
        Path dir = Path.of("..", "testvectors", folder);
        NativeStdout.Captured<CheckReport> run = NativeStdout.capture(() -> VectorCheck.run(dir, backend, 1e-3));
        assertTrue(run.errorLines().isEmpty(), folder + ": TornadoVM printed errors: " + run.errorLines());
        CheckReport report = run.value();
        System.out.println(spec + " " + report.summary());
        assertTrue(report.passed(), report.summary() + "\n" + report.table());
    }
}
