package io.resflow.jvm;

import io.resflow.engine.TestInputs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.resflow.engine.AdamW;
import io.resflow.engine.Engine;
import io.resflow.engine.Ops;
import io.resflow.engine.SessionOptions;
import io.resflow.model.Activation;
import io.resflow.model.Family;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Norm;
import io.resflow.model.Params;
import io.resflow.model.Positions;
import io.resflow.model.Residual;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Two runs give bit-identical losses, logits, gradients and parameters: in the same JVM, with different thread counts,
 * and in a fresh JVM that runs only in the interpreter (where the Vector API takes its Java fallback paths, so any
 * operation whose fallback and intrinsic could round differently would show up here).
 */
class DeterminismTest {

    static ModelConfig llama() {
        return new ModelConfig(Family.LLAMA, 2, 40, 4, 2, 10, 50, 97, 16, Norm.RMSNORM, 1e-5, Activation.SWIGLU,
                Positions.ROPE, 10000, false, Residual.PRE, 3);
    }

    static ModelConfig gpt2() {
        return new ModelConfig(Family.GPT2, 2, 48, 3, 3, 16, 131, 259, 16, Norm.LAYERNORM, 1e-5, Activation.GELU_TANH,
                Positions.LEARNED, 10000, true, Residual.PRE, 4);
    }

    /** Runs 2 training steps and returns every loss, logit, gradient and parameter as one float array. */
    static float[] run(ModelConfig c, int threads, int B, int T) {
        Params init = Initializer.init(c);
        int[] x = TestInputs.tokens(1, B * T, c.vocabSize());
        int[] y = TestInputs.tokens(2, B * T, c.vocabSize());
        List<float[]> parts = new ArrayList<>();
        try (Engine s = new Engine(c, init, B, T, SessionOptions.DEFAULT, new JvmOps(threads))) {
            for (int step = 0; step < 2; step++) {
                parts.add(new float[] {(float) s.forward(x, y)});
                parts.add(s.logits().clone());
                s.backward();
                for (var t : s.grads().tensors()) {
                    parts.add(t.data().clone());
                }
                parts.add(new float[] {(float) s.gradNorm()});
                s.step(AdamW.of(0.1), 1e-3, 1.0);
            }
            for (var t : s.params().tensors()) {
                parts.add(t.data().clone());
            }
        }
        int n = parts.stream().mapToInt(a -> a.length).sum();
        float[] all = new float[n];
        int o = 0;
        for (float[] a : parts) {
            System.arraycopy(a, 0, all, o, a.length);
            o += a.length;
        }
        return all;
    }

    static long hash(float[] a) {
        long h = 1125899906842597L;
        for (float f : a) {
            h = 31 * h + Float.floatToRawIntBits(f);
        }
        return h;
    }

    @Test
    void twoRunsAreBitIdentical() {
        for (ModelConfig c : new ModelConfig[] {gpt2(), llama()}) {
            float[] a = run(c, 2, 2, 13);
            float[] b = run(c, 2, 2, 13);
            assertArrayEquals(a, b, 0f, c.family() + ": second run differs");
        }
    }

    @Test
    void threadCountDoesNotChangeResults() {
        float[] one = run(gpt2(), 1, 2, 13);
        float[] three = run(gpt2(), 3, 2, 13);
        assertArrayEquals(one, three, 0f, "1 thread vs 3 threads");
    }

    /** Entry point of the interpreter-only child JVM: prints the hash of a run. */
    public static void main(String[] args) {
        System.out.println("HASH " + hash(run(llama(), Integer.parseInt(args[0]), 1, 5)));
    }

    @Test
    void interpreterMatchesCompiledCode() throws IOException, InterruptedException {
        long compiled = 0;
        for (int i = 0; i < 3; i++) { // warm: by the last run the kernels are C2-compiled
            compiled = hash(run(llama(), 2, 1, 5));
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xint", "--add-modules", "jdk.incubator.vector"));
        // the same vector width as this JVM (the suite also runs with a narrower width forced)
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("-XX:MaxVectorSize=") || a.startsWith("-XX:UseAVX=")) {
                cmd.add(a);
            }
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), DeterminismTest.class.getName(), "2"));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectErrorStream(true);
        Process p = pb.start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        p.getInputStream().transferTo(out);
        assertEquals(0, p.waitFor(), "child JVM failed:\n" + out);
        String text = out.toString(StandardCharsets.UTF_8);
        String line = text.lines().filter(l -> l.startsWith("HASH ")).findFirst().orElseThrow(
                () -> new AssertionError("no hash from the child JVM:\n" + text));
        assertEquals(compiled, Long.parseLong(line.substring(5).trim()),
                "interpreter-only run differs from the compiled run");
    }

    /** Every multi-task kernel family (GEMM, attention, norms, chunked reductions) with 1, 2 and 3 threads. */
    @Test
    void kernelsDoNotDependOnTheThreadCount() {
        OpCheck ops = new OpCheck() { };
        int N = 37, C = 300, OC = 131, B = 2, T = 13, nh = 4, nkv = 2, hd = 12;
        float[] inp = ops.rand(N * C, 1), w = ops.rand(OC * C, 1), b = ops.rand(OC, 1), dout = ops.rand(N * OC, 1);
        int W = (nh + 2 * nkv) * hd;
        float[] qkv = ops.rand(B * T * W, 2), adout = ops.rand(B * T * nh * hd, 1);
        float[] gw = ops.rand(C, 1), gb = ops.rand(C, 1);
        float[][] first = null;
        for (Ops jvm : OpCheck.jvms()) {
            float[] out = new float[N * OC], di = new float[N * C], dw = new float[OC * C], db = new float[OC];
            jvm.matmulForward(out, inp, w, b, N, C, OC);
            jvm.matmulBackward(di, dw, db, dout, inp, w, N, C, OC, true);
            float[] ao = new float[B * T * nh * hd], st = new float[(int) jvm.attentionStateSize(B, T, nh)], dq = new float[B * T * W];
            jvm.attentionForward(ao, st, qkv, B, T, nh, nkv, hd);
            jvm.attentionBackward(dq, adout, qkv, ao, st, B, T, nh, nkv, hd, true);
            float[] ln = new float[N * C], mean = new float[N], rstd = new float[N], lw = new float[C];
            jvm.layerNormForward(ln, mean, rstd, inp, gw, gb, N, C, 1e-5f);
            jvm.layerNormBackward(ln, lw, null, inp, inp, gw, mean, rstd, N, C, true);
            float[][] all = {out, di, dw, db, ao, st, dq, ln, lw, {(float) jvm.sumSquares(dw, dw.length)}};
            if (first == null) {
                first = all;
            } else {
                for (int i = 0; i < all.length; i++) {
                    assertArrayEquals(first[i], all[i], 0f, "output " + i + " differs between thread counts");
                }
            }
        }
    }
}
