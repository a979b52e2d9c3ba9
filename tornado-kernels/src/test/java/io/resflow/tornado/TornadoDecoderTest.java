package io.resflow.tornado;

import io.resflow.engine.TestInputs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.check.DecodeCheck;
import io.resflow.check.TestVectors;
import io.resflow.engine.Decoder;
import io.resflow.engine.Generator;
import io.resflow.engine.Sampling;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import io.resflow.model.Residual;
import io.resflow.reference.ReferenceBackend;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The tornado decoder (KV cache on the device, one graph execution per token) on the default device in strict mode
 * (every task's device time checked on every execution; -Dtornado.recover.bailout=False; native stdout scanned for
 * OpenCL errors): its logits against the tornado full-sequence forward at every position, GPT-2 and Llama with GQA
 * and several residual schemes, the test-vector models with greedy ids identical to the reference's, and what
 * crosses the bus per step.
 */
class TornadoDecoderTest {
    static final double TOL = 1e-5;
    private static TornadoBackend backend;

    @BeforeAll
    static void strictBackend() {
        TornadoBackend def = (TornadoBackend) new TornadoBackendProvider().create("");
        backend = new TornadoBackend(def.id(), def.device(), true);
    }

    private static <T> T clean(String what, java.util.function.Supplier<T> body) {
        NativeStdout.Captured<T> run = NativeStdout.capture(body);
        assertTrue(run.errorLines().isEmpty(), what + ": TornadoVM printed errors: " + run.errorLines());
        return run.value();
    }

    static Stream<Arguments> configs() {
        return Stream.of(
                Arguments.of("gpt2 pre", TornadoBackendTest.gpt2(2, 3, 10, 50, 259, Residual.PRE, true, 11)),
                Arguments.of("gpt2 post, untied", TornadoBackendTest.gpt2(2, 3, 10, 50, 259, Residual.POST, false, 13)),
                Arguments.of("gpt2 rezero", TornadoBackendTest.gpt2(2, 3, 10, 50, 259, Residual.REZERO, true, 15)),
                Arguments.of("llama pre, GQA 4/2, untied",
                        TornadoBackendTest.llama(2, 32, 4, 2, 8, 44, 259, Residual.PRE, false, 12)),
                Arguments.of("llama deepnorm, MQA 3/1, head_dim 6",
                        TornadoBackendTest.llama(2, 20, 3, 1, 6, 28, 131, Residual.DEEPNORM, true, 14)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void kvLogitsMatchTheFullForward(String name, ModelConfig c) {
        int[] toks = ReferenceComparison.tokens(12, c.vocabSize(), 5);
        DecodeCheck k = clean(name, () -> DecodeCheck.run(backend, c, TestInputs.openGates(c), toks, 3));
        System.out.println("tornado decode, " + name + ": " + k);
        assertTrue(k.passes(TOL), name + ": " + k);
    }

    static Stream<Path> vectorFolders() {
        return TestVectors.folders(Path.of("..", "testvectors")).stream()
                .filter(p -> !p.getFileName().toString().equals("gpt2-deep-104"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectorFolders")
    void testVectorModelsGreedyLikeTheReference(Path dir) {
        TestVectors tv = TestVectors.load(dir);
        ModelConfig c = tv.config();
        DecodeCheck k = clean(dir.toString(), () -> DecodeCheck.run(backend, tv, 2));
        System.out.println("tornado decode, " + dir.getFileName() + ": " + k);
        assertTrue(k.passes(TOL), dir.getFileName() + ": " + k);
        int[] prompt = java.util.Arrays.copyOf(tv.inputs(), 3);
        int[] ref;
        try (Decoder d = new ReferenceBackend().openDecoder(c, tv.params(), c.maxSeqLen())) {
            ref = Generator.generate(d, prompt, 1000, Sampling.GREEDY, Set.of(), null).ids();
        }
        int[] dev = clean(dir.toString(), () -> {
            try (Decoder d = backend.openDecoder(c, tv.params(), c.maxSeqLen())) {
                return Generator.generate(d, prompt, 1000, Sampling.GREEDY, Set.of(), null).ids();
            }
        });
        assertArrayEquals(ref, dev, dir.getFileName() + ": greedy ids differ from the reference's");
    }

    /**
     * After the first execution a step sends the token and position in and the logits out: no tensor crosses the bus
     * (TornadoVM's profiler counts 792 bytes in and 1052 out per step on PoCL for this 32-task graph, the same at every
     * position: 24 bytes per task and 24 for the 8-byte step array with its header in, the 259 logits and a 16-byte
     * header out; the smallest parameter tensor of this model is 128 bytes, the activations 2 KB).
     */
    @Test
    void aStepMovesOnlyTheTokenInAndTheLogitsOut() {
        ModelConfig c = TornadoBackendTest.llama(2, 32, 4, 2, 8, 44, 259, Residual.PRE, false, 12);
        clean("bytes", () -> {
            try (TornadoDecoder d = backend.openDecoder(c, TestInputs.openGates(c), 16)) {
                d.prefill(new int[] {1, 2, 3});
                long[] first = d.lastStepBytes();
                System.out.println("tornado decode step bytes: " + first[0] + " in, " + first[1] + " out");
                for (int i = 0; i < 4; i++) {
                    d.decode(7 + i);
                    long[] bytes = d.lastStepBytes();
                    assertArrayEquals(first, bytes, "bytes per step at position " + (3 + i));
                    assertTrue(bytes[0] <= 1024, "bytes in per step: " + bytes[0]);
                    assertTrue(bytes[1] >= 4L * c.vocabSize() && bytes[1] <= 4L * c.vocabSize() + 1024,
                            "bytes out per step: " + bytes[1]);
                }
                assertEquals(7, d.position());
            }
            return null;
        });
    }
}
