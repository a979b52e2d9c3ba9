package io.resflow.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.reference.ReferenceBackend;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The bf16 reference against every folder's fp32 values at {@link Bf16Budget}, and that budget catching a planted 1%
 * error: the same check fails when one tensor of the oracle is moved by 1%.
 */
class Bf16BudgetTest {

    static List<Path> folders() {
        return TestVectors.folders(Path.of("..", "testvectors"));
    }

    @ParameterizedTest
    @MethodSource("folders")
    void bf16ReferenceWithinTheBudget(Path dir) {
        CheckReport r = VectorCheck.runBf16(TestVectors.load(dir), new ReferenceBackend());
        assertTrue(r.passed(), dir.getFileName() + ":\n" + r.table());
        assertTrue(r.rows().size() > 10, "too few tensors compared: " + r.rows().size());
    }

    @Test
    void theFormula() {
        double u = 0x1p-8;
        assertEquals(u * Math.sqrt(2 + 2 * Math.log(3) / Math.log(2)), new Bf16Budget(2).forwardEps(), 1e-15);
        assertEquals(u * Math.sqrt(16 + 1.5 * 104), new Bf16Budget(104).backwardEps(), 1e-15);
        for (int l = 1; l < 1000; l++) {
            assertTrue(new Bf16Budget(l + 1).forwardEps() > new Bf16Budget(l).forwardEps());
            assertTrue(new Bf16Budget(l + 1).backwardEps() >= new Bf16Budget(l).backwardEps());
        }
        // at two layers a 1% error in the logits is out of bounds, with room for bf16's own ~0.45%
        assertTrue(new Bf16Budget(2).forwardEps() < 0.01 && new Bf16Budget(2).forwardEps() > 0.0045 * 1.8);
    }

    /** Logits 1% off (every value times 1.01) fail the bf16 check of gpt2-tiny that passes without the plant. */
    @Test
    void aPlantedOnePercentErrorInTheLogitsFails() {
        TestVectors tv = TestVectors.load(Path.of("..", "testvectors", "gpt2-tiny"));
        float[] logits = tv.logits().clone();
        for (int i = 0; i < logits.length; i++) {
            logits[i] *= 1.01f;
        }
        CheckReport r = VectorCheck.runBf16(with(tv, logits, tv.grads()), new ReferenceBackend());
        assertFalse(r.passed(), r.table());
        Comparison.Row row = r.rows().stream().filter(x -> x.tensor().equals("logits")).findFirst().orElseThrow();
        assertFalse(row.ok(), row.toString());
        assertEquals(1, r.rows().stream().filter(x -> !x.ok()).count(), "only the planted tensor fails:\n" + r.table());
    }

    /** The same for a gradient, at 3% (the backward budget of two layers is 1.8%). */
    @Test
    void aPlantedErrorInOneGradientFails() {
        TestVectors tv = TestVectors.load(Path.of("..", "testvectors", "llama-tiny"));
        Map<String, float[]> grads = new LinkedHashMap<>(tv.grads());
        String name = grads.keySet().stream().filter(n -> n.contains("layers.0.mlp.down_proj")).findFirst().orElseThrow();
        float[] g = grads.get(name).clone();
        for (int i = 0; i < g.length; i++) {
            g[i] *= 1.03f;
        }
        grads.put(name, g);
        CheckReport r = VectorCheck.runBf16(with(tv, tv.logits(), grads), new ReferenceBackend());
        assertFalse(r.passed(), r.table());
        assertEquals(List.of("grad." + name), r.rows().stream().filter(x -> !x.ok()).map(Comparison.Row::tensor).toList());
    }

    private static TestVectors with(TestVectors tv, float[] logits, Map<String, float[]> grads) {
        return new TestVectors(tv.dir(), tv.config(), tv.params(), tv.hfPrefix(), tv.batch(), tv.seqLen(), tv.inputs(),
                tv.targets(), logits, tv.loss(), grads, tv.afterStep1(), tv.lossesAfterSteps(), tv.lr(), tv.adamw());
    }
}
