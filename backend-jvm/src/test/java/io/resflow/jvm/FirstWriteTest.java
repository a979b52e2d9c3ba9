package io.resflow.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.engine.Ops;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import io.resflow.engine.Engine;
import io.resflow.engine.SessionOptions;
import io.resflow.engine.TestInputs;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import io.resflow.model.Residual;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The store half of the backward contract ({@code add} false, see {@link Ops}): every gradient output an op is
 * given is overwritten whatever it held (here NaN), and holds exactly what accumulating into a cleared buffer gives
 * (the same bits but for the sign of a zero), on the jvm ops at 1, 2 and 3 threads and on the reference.
 */
class FirstWriteTest extends OpCheck {

    /** One backward call writing into {@code out}, accumulating or storing. */
    interface Call {
        void run(Ops ops, float[][] out, boolean add);
    }

    private List<Ops> all() {
        List<Ops> ops = new ArrayList<>(List.of(jvms()));
        ops.add(ref);
        return ops;
    }

    /** Outputs of the given sizes: cleared and accumulated into, or full of NaN and stored into, must agree. */
    private void storesWhatAddingToZeroGives(String what, Call call, int... sizes) {
        for (Ops ops : all()) {
            float[][] added = new float[sizes.length][];
            float[][] stored = new float[sizes.length][];
            for (int i = 0; i < sizes.length; i++) {
                added[i] = new float[sizes[i]];
                stored[i] = new float[sizes[i]];
                Arrays.fill(stored[i], Float.NaN);
            }
            call.run(ops, added, true);
            call.run(ops, stored, false);
            for (int i = 0; i < sizes.length; i++) {
                String at = what + ", output " + i + ", " + ops.describe();
                assertArrayEquals(added[i], stored[i], 0f, at);
                boolean any = false;
                for (float v : added[i]) {
                    any |= v != 0;
                }
                assertTrue(any, at + ": the call wrote nothing but zeros (the test would prove nothing)");
            }
        }
    }

    @Test
    void matmul() {
        int N = 37, C = 70, OC = 45;
        float[] inp = rand(N * C, 1), w = rand(OC * C, 1), dout = rand(N * OC, 1);
        storesWhatAddingToZeroGives("matmul", (ops, o, add) -> ops.matmulBackward(o[0], o[1], o[2], dout, inp, w, N,
                C, OC, add), N * C, OC * C, OC);
        storesWhatAddingToZeroGives("matmul dinp only", (ops, o, add) -> ops.matmulBackward(o[0], null, null, dout,
                inp, w, N, C, OC, add), N * C);
    }

    @Test
    void norms() {
        int N = 11, C = 50;
        float[] inp = rand(N * C, 2), w = rand(C, 1), dout = rand(N * C, 1);
        float[] y = new float[N * C], mean = new float[N], rstd = new float[N];
        ref.layerNormForward(y, mean, rstd, inp, w, rand(C, 1), N, C, 1e-5f);
        storesWhatAddingToZeroGives("layernorm", (ops, o, add) -> ops.layerNormBackward(o[0], o[1], o[2], dout, inp,
                w, mean, rstd, N, C, add), N * C, C, C);
        ref.rmsNormForward(y, rstd, inp, w, N, C, 1e-5f);
        storesWhatAddingToZeroGives("rmsnorm", (ops, o, add) -> ops.rmsNormBackward(o[0], o[1], dout, inp, w, rstd,
                N, C, add), N * C, C);
        storesWhatAddingToZeroGives("rmsnorm dw only", (ops, o, add) -> ops.rmsNormBackward(null, o[0], dout, inp, w,
                rstd, N, C, add), C);
    }

    @Test
    void attention() {
        // {B, T, nh, nkv, hd}: GQA over one query block, several query and key blocks (probabilities recomputed
        // past KEEP_P_MAX_T), a tail narrower than a register tile
        int[][] shapes = {{2, 13, 4, 2, 12}, {1, 150, 2, 1, 12}, {2, 70, 2, 2, 64}, {1, 9, 2, 2, 80}};
        for (int[] sh : shapes) {
            int B = sh[0], T = sh[1], nh = sh[2], nkv = sh[3], hd = sh[4];
            int W = (nh + 2 * nkv) * hd;
            float[] qkv = rand(B * T * W, 2), dout = rand(B * T * nh * hd, 1);
            for (Ops ops : all()) {
                float[] out = new float[B * T * nh * hd];
                float[] st = new float[(int) ops.attentionStateSize(B, T, nh)];
                ops.attentionForward(out, st, qkv, B, T, nh, nkv, hd);
                storesWhatAddingToZeroGivesOn(ops, "attention " + Arrays.toString(sh), (o, add) ->
                        ops.attentionBackward(o[0], dout, qkv, out, st, B, T, nh, nkv, hd, add), B * T * W);
            }
        }
    }

    /** As {@link #storesWhatAddingToZeroGives} on one ops (whose forward state the call reads). */
    private void storesWhatAddingToZeroGivesOn(Ops only, String what, java.util.function.BiConsumer<float[][], Boolean> c,
            int size) {
        float[] added = new float[size];
        float[] stored = new float[size];
        Arrays.fill(stored, Float.NaN);
        c.accept(new float[][] {added}, true);
        c.accept(new float[][] {stored}, false);
        assertArrayEquals(added, stored, 0f, what + ", " + only.describe());
    }

    @Test
    void elementwise() {
        int N = 9, F = 37, n = N * F;
        float[] x = rand(2 * n, 3), dout = rand(2 * n, 1), branch = rand(n, 1);
        storesWhatAddingToZeroGives("gelu", (ops, o, add) -> ops.geluBackward(o[0], x, dout, n, add), n);
        storesWhatAddingToZeroGives("swiglu", (ops, o, add) -> ops.swigluBackward(o[0], x, dout, N, F, add), 2 * n);
        storesWhatAddingToZeroGives("residual", (ops, o, add) -> ops.residualBackward(o[0], o[1], dout, 0.7f, branch,
                0.3f, n, add), n, n);
    }

    @Test
    void crossEntropy() {
        int N = 6, V = 77;
        float[] logits = rand(N * V, 3), probs = new float[N * V], losses = new float[N];
        int[] targets = tokens(N, V);
        ref.crossEntropyForward(losses, probs, logits, targets, N, V);
        storesWhatAddingToZeroGives("cross-entropy", (ops, o, add) -> ops.crossEntropyBackward(o[0], probs, targets,
                N, V, add), N * V);
    }

    @Test
    void embeddingWritesEveryRow() {
        // 5 of 40 token rows and 7 of 16 position rows are hit: a store must clear the others too
        int B = 1, T = 7, C = 24, V = 40, P = 16;
        int[] tok = {3, 9, 3, 17, 30, 9, 3};
        float[] dout = rand(B * T * C, 1);
        storesWhatAddingToZeroGives("embedding", (ops, o, add) -> ops.embeddingBackward(o[0], o[1], dout, tok, B, T,
                C, add), V * C, P * C);
    }

    /**
     * The Engine clears no gradient before a backward: with every gradient buffer full of NaN from the start, a
     * step's gradients are those of a fresh session, bit for bit, on every residual scheme (GPT-2: tied and learned
     * positions; Llama: untied head, RoPE, SwiGLU, GQA), on the jvm and on the reference.
     */
    @ParameterizedTest
    @EnumSource(Residual.class)
    void engineWritesEveryGradient(Residual r) {
        for (ModelConfig c : List.of(JvmEngineTest.gpt2(r, 2), JvmEngineTest.llama().withResidual(r))) {
            for (Ops ops : List.of(new JvmOps(2), ref)) {
                int B = 2, T = 9;
                int[] x = TestInputs.tokens(1, B * T, c.vocabSize());
                int[] y = TestInputs.tokens(2, B * T, c.vocabSize());
                Params init = TestInputs.openGates(c);
                try (Engine fresh = new Engine(c, init, B, T, SessionOptions.DEFAULT, ops);
                        Engine dirty = new Engine(c, init, B, T, SessionOptions.DEFAULT, ops)) {
                    fresh.forward(x, y);
                    fresh.backward();
                    for (var t : dirty.grads().tensors()) {
                        Arrays.fill(t.data(), Float.NaN);
                    }
                    dirty.forward(x, y);
                    dirty.backward();
                    dirty.forward(x, y);
                    dirty.backward(); // a second backward replaces the first's gradients, it does not add to them
                    for (var t : fresh.grads().tensors()) {
                        assertArrayEquals(t.data(), dirty.grads().data(t.name()), 0f,
                                c.family() + "/" + r + " " + t.name() + " on " + ops.describe());
                    }
                }
            }
        }
    }
}
