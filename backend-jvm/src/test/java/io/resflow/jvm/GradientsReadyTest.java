package io.resflow.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.engine.Engine;
import io.resflow.engine.Ops;
import io.resflow.reference.ReferenceOps;
import io.resflow.engine.SessionOptions;
import io.resflow.engine.TestInputs;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import io.resflow.model.Residual;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What a data-parallel all-reduce that overlaps the backward relies on ({@code Session.backward(GradientsReady)}):
 * the Engine reports decreasing layout offsets ending with 0, and whatever it reports as final is already written
 * (the gradients start full of NaN) and is not written again (a copy taken at the report equals the backward's end
 * result bit for bit); the ranged copies in and out address the same floats as the whole-gradient ones.
 */
class GradientsReadyTest {

    @ParameterizedTest
    @EnumSource(Residual.class)
    void reportedGradientsAreFinal(Residual r) {
        for (ModelConfig c : List.of(JvmEngineTest.gpt2(r, 2), JvmEngineTest.llama().withResidual(r))) {
            for (Ops ops : List.of(new JvmOps(2), new ReferenceOps())) {
                for (boolean recompute : new boolean[] {false, true}) {
                    check(c, ops, recompute, c.family() + "/" + r + (recompute ? " recompute" : "") + " on "
                            + ops.describe());
                }
            }
        }
    }

    private static void check(ModelConfig c, Ops ops, boolean recompute, String what) {
        int B = 2, T = 9;
        int[] x = TestInputs.tokens(1, B * T, c.vocabSize());
        int[] y = TestInputs.tokens(2, B * T, c.vocabSize());
        Params init = TestInputs.openGates(c);
        SessionOptions o = new SessionOptions(recompute);
        try (Engine e = new Engine(c, init, B, T, o, ops); Arena arena = Arena.ofConfined()) {
            long n = e.grads().totalSize();
            for (var t : e.grads().tensors()) {
                Arrays.fill(t.data(), Float.NaN);
            }
            List<Long> offsets = new ArrayList<>();
            List<MemorySegment> copies = new ArrayList<>();
            e.forward(x, y);
            e.backward(from -> {
                MemorySegment s = arena.allocate(ValueLayout.JAVA_FLOAT, n);
                e.gradientsTo(s, from, n);
                offsets.add(from);
                copies.add(s);
            });
            // the head (untied), the final norm, every block, the embeddings
            int expected = 2 * c.nLayer() + 2 + (c.tieEmbeddings() ? 0 : 1);
            assertEquals(expected, offsets.size(), what + ": reports " + offsets);
            assertEquals(0L, offsets.getLast(), what);
            MemorySegment end = arena.allocate(ValueLayout.JAVA_FLOAT, n);
            e.gradientsTo(end);
            for (int i = 0; i < offsets.size(); i++) {
                long from = offsets.get(i);
                assertTrue(i == 0 ? from < n : from < offsets.get(i - 1), what + ": offsets must decrease " + offsets);
                for (long j = from; j < n; j++) {
                    float got = copies.get(i).getAtIndex(ValueLayout.JAVA_FLOAT, j);
                    float fin = end.getAtIndex(ValueLayout.JAVA_FLOAT, j);
                    if (Float.floatToRawIntBits(got) != Float.floatToRawIntBits(fin)) {
                        throw new AssertionError(what + ": float " + j + " reported final at report " + i + " (from "
                                + from + ") was " + got + ", the backward ended with " + fin);
                    }
                }
            }
            // ranged copies back: halves written separately give the whole
            MemorySegment twice = arena.allocate(ValueLayout.JAVA_FLOAT, n);
            for (long j = 0; j < n; j++) {
                twice.setAtIndex(ValueLayout.JAVA_FLOAT, j, 2 * end.getAtIndex(ValueLayout.JAVA_FLOAT, j));
            }
            long mid = n / 2 + 3;
            e.gradientsFrom(twice, mid, n);
            e.gradientsFrom(twice, 0, mid);
            MemorySegment back = arena.allocate(ValueLayout.JAVA_FLOAT, n);
            e.gradientsTo(back);
            assertEquals(-1L, twice.mismatch(back), what + ": ranged gradientsFrom");
        }
    }
}
