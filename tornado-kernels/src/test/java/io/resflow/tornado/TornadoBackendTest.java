package io.resflow.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.check.CheckReport;
import io.resflow.check.VectorCheck;
import io.resflow.engine.BackendProvider;
import io.resflow.engine.DeviceInfo;
import io.resflow.model.Activation;
import io.resflow.model.BadInputException;
import io.resflow.model.Family;
import io.resflow.model.ModelConfig;
import io.resflow.model.Norm;
import io.resflow.model.Positions;
import io.resflow.model.Residual;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The tornado backend against the oracles, on TornadoVM's default device (PoCL's CPU OpenCL device here). Runs with
 * -Dtornado.recover.bailout=False (a fallback to Java throws) and the backend in strict mode (every task's device
 * kernel time must be non-zero on every execution); each case also captures the native stdout and fails on any
 * error line the OpenCL driver printed.
 */
class TornadoBackendTest {
    private static TornadoBackend backend;

    @BeforeAll
    static void strictBackend() {
        TornadoBackendProvider provider = new TornadoBackendProvider();
        TornadoBackend def = (TornadoBackend) provider.create("");
        backend = new TornadoBackend(def.id(), def.device(), true);
    }

    private static <T> T clean(String what, java.util.function.Supplier<T> body) {
        NativeStdout.Captured<T> run = NativeStdout.capture(body);
        assertTrue(run.errorLines().isEmpty(), what + ": TornadoVM printed errors: " + run.errorLines());
        return run.value();
    }

    static Stream<Path> vectorFolders() throws IOException {
        return io.resflow.check.TestVectors.folders(Path.of("..", "testvectors")).stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectorFolders")
    void testVectors(Path dir) {
        CheckReport report = clean(dir.toString(), () -> VectorCheck.run(dir, backend, 1e-3));
        System.out.println(report.summary() + "\n" + report.table());
        assertTrue(report.passed(), report.summary() + "\n" + report.table());
    }

    static ModelConfig gpt2(int layers, int heads, int headDim, int ff, int vocab, Residual r, boolean tied,
            long seed) {
        return new ModelConfig(Family.GPT2, layers, heads * headDim, heads, heads, headDim, ff, vocab, 32,
                Norm.LAYERNORM, 1e-5, Activation.GELU_TANH, Positions.LEARNED, 10000, tied, r, seed);
    }

    static ModelConfig llama(int layers, int dModel, int heads, int kv, int headDim, int ff, int vocab, Residual r,
            boolean tied, long seed) {
        return new ModelConfig(Family.LLAMA, layers, dModel, heads, kv, headDim, ff, vocab, 32, Norm.RMSNORM, 1e-5,
                Activation.SWIGLU, Positions.ROPE, 10000, tied, r, seed);
    }

    static Stream<Arguments> randomConfigs() {
        return Stream.of(
                Arguments.of("gpt2 pre, 3 heads, vocab 259, T=13",
                        gpt2(2, 3, 10, 50, 259, Residual.PRE, true, 11), 2, 13),
                Arguments.of("llama pre, GQA 4/2, untied, vocab 259, T=13",
                        llama(2, 32, 4, 2, 8, 44, 259, Residual.PRE, false, 12), 2, 13),
                Arguments.of("gpt2 post, untied", gpt2(2, 3, 10, 50, 259, Residual.POST, false, 13), 2, 13),
                Arguments.of("llama deepnorm, MQA 3/1, head_dim 6 != d/heads",
                        llama(3, 20, 3, 1, 6, 28, 131, Residual.DEEPNORM, true, 14), 3, 7),
                Arguments.of("gpt2 rezero", gpt2(2, 3, 10, 50, 259, Residual.REZERO, true, 15), 2, 13),
                Arguments.of("llama none (no skip path)", llama(2, 32, 4, 2, 8, 44, 259, Residual.NONE, false, 16), 2,
                        13),
                Arguments.of("gpt2 pre, 128 layers, d=32", gpt2(128, 4, 8, 64, 64, Residual.PRE, true, 17), 1, 6));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("randomConfigs")
    void matchesReference(String name, ModelConfig c, int batch, int seqLen) {
        ReferenceComparison cmp = clean(name, () -> ReferenceComparison.run(backend, c, batch, seqLen));
        cmp.assertPassed(name);
    }

    /**
     * restore(): a session given the parameters and AdamW state of another after one step continues exactly like
     * it (same loss, same parameters and moments after the next step); the recompute option is accepted.
     */
    @Test
    void restoreResumesTraining() {
        ModelConfig c = llama(2, 32, 4, 2, 8, 44, 97, Residual.PRE, false, 21);
        int B = 2;
        int T = 5;
        var init = io.resflow.model.Initializer.init(c);
        int[] x = ReferenceComparison.tokens(B * T, c.vocabSize(), 3);
        int[] y = ReferenceComparison.tokens(B * T, c.vocabSize(), 4);
        var opt = new io.resflow.engine.AdamW(0.9, 0.95, 1e-8, 0.1);
        clean("restore", () -> {
            try (TornadoSession a = backend.open(c, init, B, T, io.resflow.engine.SessionOptions.DEFAULT);
                    TornadoSession b = backend.open(c, init, B, T, new io.resflow.engine.SessionOptions(true))) {
                a.forward(x, y);
                a.backward();
                a.step(opt, 1e-3, 1.0);
                b.restore(a.params(), a.optimizerState());
                assertEquals(1, b.optimizerState().step());
                double la = a.forward(x, y);
                double lb = b.forward(x, y);
                assertEquals(la, lb, 0.0, "loss after restore");
                a.backward();
                b.backward();
                a.step(opt, 1e-3, 1.0);
                b.step(opt, 1e-3, 1.0);
                ReferenceComparison cmp = new ReferenceComparison();
                cmp.params("param.", b.params(), a.params());
                cmp.params("m.", b.optimizerState().m(), a.optimizerState().m());
                cmp.params("v.", b.optimizerState().v(), a.optimizerState().v());
                cmp.assertPassed("restore");
            }
            return null;
        });
    }

    @Test
    void providerIsRegisteredAndListsDevices() {
        BackendProvider p = ServiceLoader.load(BackendProvider.class).stream().map(ServiceLoader.Provider::get)
                .filter(x -> x.name().equals("tornado")).findFirst().orElseThrow();
        List<DeviceInfo> devices = p.devices();
        assertFalse(devices.isEmpty());
        for (DeviceInfo d : devices) {
            System.out.println(d);
            assertTrue(d.spec().matches("tornado:\\d+:\\d+"), d.spec());
            assertTrue(List.of("OpenCL", "PTX", "SPIR-V").contains(d.kind()), d.kind());
        }
        // oclgrind's simulator (RESFLOW_OCLGRIND=1) is not an accelerator for auto
        boolean anyNonCpu = devices.stream()
                .anyMatch(d -> !d.detail().startsWith("cpu") && !d.detail().contains("simulator"));
        assertEquals(anyNonCpu, p.hasAccelerator());
        assertEquals("tornado:0:0", p.create("0:0").id());
        BadInputException e = assertThrows(BadInputException.class, () -> p.create("7:3"));
        assertTrue(e.getMessage().contains("7:3"), e.getMessage());
        assertThrows(BadInputException.class, () -> p.create("gpu"));
    }
}
