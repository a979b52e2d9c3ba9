package io.resflow.jvm.bench;

import io.resflow.engine.AdamW;
import io.resflow.engine.Engine;
import io.resflow.engine.Ops;
import io.resflow.engine.SessionOptions;
import io.resflow.jvm.JvmOps;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * Where the time of a GPT-2 small training step goes: wall time per Ops call kind (matmuls split by shape), the
 * Engine's own work (gradient zeroing, ...) as the remainder. Not a JMH benchmark, a diagnostic:
 * {@code java --add-modules jdk.incubator.vector -cp <test class path> io.resflow.jvm.bench.StepProfile [steps] [threads]}.
 */
public final class StepProfile {

    /** An Ops that times every call of its delegate. */
    static final class TimedOps implements Ops {
        final Ops d;
        final Map<String, long[]> t = new TreeMap<>();

        TimedOps(Ops d) {
            this.d = d;
        }

        void add(String k, long t0) {
            long[] a = t.computeIfAbsent(k, x -> new long[2]);
            a[0] += System.nanoTime() - t0;
            a[1]++;
        }

        @Override
        public String describe() {
            return d.describe();
        }

        @Override
        public void embeddingForward(float[] out, int[] tokens, float[] wte, float[] wpe, int B, int T, int C) {
            long t0 = System.nanoTime();
            d.embeddingForward(out, tokens, wte, wpe, B, T, C);
            add("embedding fwd", t0);
        }

        @Override
        public void embeddingBackward(float[] dwte, float[] dwpe, float[] dout, int[] tokens, int B, int T, int C) {
            long t0 = System.nanoTime();
            d.embeddingBackward(dwte, dwpe, dout, tokens, B, T, C);
            add("embedding bwd", t0);
        }

        @Override
        public void layerNormForward(float[] out, float[] mean, float[] rstd, float[] inp, float[] w, float[] b, int N,
                int C, float eps) {
            long t0 = System.nanoTime();
            d.layerNormForward(out, mean, rstd, inp, w, b, N, C, eps);
            add("layernorm fwd", t0);
        }

        @Override
        public void layerNormBackward(float[] dinp, float[] dw, float[] db, float[] dout, float[] inp, float[] w,
                float[] mean, float[] rstd, int N, int C) {
            long t0 = System.nanoTime();
            d.layerNormBackward(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
            add("layernorm bwd", t0);
        }

        @Override
        public void rmsNormForward(float[] out, float[] rstd, float[] inp, float[] w, int N, int C, float eps) {
            long t0 = System.nanoTime();
            d.rmsNormForward(out, rstd, inp, w, N, C, eps);
            add("rmsnorm fwd", t0);
        }

        @Override
        public void rmsNormBackward(float[] dinp, float[] dw, float[] dout, float[] inp, float[] w, float[] rstd,
                int N, int C) {
            long t0 = System.nanoTime();
            d.rmsNormBackward(dinp, dw, dout, inp, w, rstd, N, C);
            add("rmsnorm bwd", t0);
        }

        @Override
        public void matmulForward(float[] out, float[] inp, float[] weight, float[] bias, int N, int C, int OC) {
            long t0 = System.nanoTime();
            d.matmulForward(out, inp, weight, bias, N, C, OC);
            add("matmul fwd " + N + "x" + C + "x" + OC, t0);
        }

        @Override
        public void matmulBackward(float[] dinp, float[] dweight, float[] dbias, float[] dout, float[] inp,
                float[] weight, int N, int C, int OC) {
            long t0 = System.nanoTime();
            d.matmulBackward(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
            add("matmul bwd " + N + "x" + C + "x" + OC, t0);
        }

        @Override
        public void ropeForward(float[] qkv, int B, int T, int nh, int nkv, int hd, double theta) {
            long t0 = System.nanoTime();
            d.ropeForward(qkv, B, T, nh, nkv, hd, theta);
            add("rope fwd", t0);
        }

        @Override
        public void ropeBackward(float[] dqkv, int B, int T, int nh, int nkv, int hd, double theta) {
            long t0 = System.nanoTime();
            d.ropeBackward(dqkv, B, T, nh, nkv, hd, theta);
            add("rope bwd", t0);
        }

        @Override
        public long attentionStateSize(int B, int T, int nh) {
            return d.attentionStateSize(B, T, nh);
        }

        @Override
        public void attentionForward(float[] out, float[] state, float[] qkv, int B, int T, int nh, int nkv, int hd) {
            long t0 = System.nanoTime();
            d.attentionForward(out, state, qkv, B, T, nh, nkv, hd);
            add("attention fwd", t0);
        }

        @Override
        public void embeddingForwardAt(float[] out, int[] tokens, float[] wte, float[] wpe, int T, int pos0, int C) {
            long t0 = System.nanoTime();
            d.embeddingForwardAt(out, tokens, wte, wpe, T, pos0, C);
            add("embedding at", t0);
        }

        @Override
        public void ropeForwardAt(float[] qkv, int T, int pos0, int nh, int nkv, int hd, double theta) {
            long t0 = System.nanoTime();
            d.ropeForwardAt(qkv, T, pos0, nh, nkv, hd, theta);
            add("rope at", t0);
        }

        @Override
        public void attentionDecode(float[] out, float[] kCache, float[] vCache, float[] qkv, int T, int pos0, int nh,
                int nkv, int hd) {
            long t0 = System.nanoTime();
            d.attentionDecode(out, kCache, vCache, qkv, T, pos0, nh, nkv, hd);
            add("attention decode", t0);
        }

        @Override
        public void attentionBackward(float[] dqkv, float[] dout, float[] qkv, float[] out, float[] state, int B,
                int T, int nh, int nkv, int hd) {
            long t0 = System.nanoTime();
            d.attentionBackward(dqkv, dout, qkv, out, state, B, T, nh, nkv, hd);
            add("attention bwd", t0);
        }

        @Override
        public void geluForward(float[] out, float[] inp, int n) {
            long t0 = System.nanoTime();
            d.geluForward(out, inp, n);
            add("gelu fwd", t0);
        }

        @Override
        public void geluBackward(float[] dinp, float[] inp, float[] dout, int n) {
            long t0 = System.nanoTime();
            d.geluBackward(dinp, inp, dout, n);
            add("gelu bwd", t0);
        }

        @Override
        public void swigluForward(float[] out, float[] inp, int N, int F) {
            long t0 = System.nanoTime();
            d.swigluForward(out, inp, N, F);
            add("swiglu fwd", t0);
        }

        @Override
        public void swigluBackward(float[] dinp, float[] inp, float[] dout, int N, int F) {
            long t0 = System.nanoTime();
            d.swigluBackward(dinp, inp, dout, N, F);
            add("swiglu bwd", t0);
        }

        @Override
        public void residualForward(float[] out, float[] skip, float alpha, float[] branch, float gate, int n) {
            long t0 = System.nanoTime();
            d.residualForward(out, skip, alpha, branch, gate, n);
            add("residual fwd", t0);
        }

        @Override
        public double residualBackward(float[] dskip, float[] dbranch, float[] dout, float alpha, float[] branch,
                float gate, int n) {
            long t0 = System.nanoTime();
            double r = d.residualBackward(dskip, dbranch, dout, alpha, branch, gate, n);
            add("residual bwd", t0);
            return r;
        }

        @Override
        public double crossEntropyForward(float[] losses, float[] probs, float[] logits, int[] targets, int N, int V) {
            long t0 = System.nanoTime();
            double r = d.crossEntropyForward(losses, probs, logits, targets, N, V);
            add("crossentropy fwd", t0);
            return r;
        }

        @Override
        public void crossEntropyBackward(float[] dlogits, float[] probs, int[] targets, int N, int V) {
            long t0 = System.nanoTime();
            d.crossEntropyBackward(dlogits, probs, targets, N, V);
            add("crossentropy bwd", t0);
        }

        @Override
        public void adamw(float[] p, float[] g, float[] m, float[] v, int n, float lr, float b1, float b2, float eps,
                float wd, int t, float gradScale) {
            long t0 = System.nanoTime();
            d.adamw(p, g, m, v, n, lr, b1, b2, eps, wd, t, gradScale);
            add("adamw", t0);
        }

        @Override
        public double sumSquares(float[] g, int n) {
            long t0 = System.nanoTime();
            double r = d.sumSquares(g, n);
            add("sumSquares", t0);
            return r;
        }

        @Override
        public void zero(float[] a, int n) {
            long t0 = System.nanoTime();
            d.zero(a, n);
            add("zero", t0);
        }
    }

    /** Bytes allocated so far by all live threads (HotSpot's per-thread TLAB accounting). */
    static long allocatedBytes() {
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (long b : mx.getThreadAllocatedBytes(mx.getAllThreadIds())) {
            sum += Math.max(0, b);
        }
        return sum;
    }

    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 6;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
        ModelConfig c = Gpt2StepBenchmark.gpt2Small();
        int B = Gpt2StepBenchmark.B;
        int T = Gpt2StepBenchmark.T;
        TimedOps ops = new TimedOps(new JvmOps(threads));
        SplittableRandom r = new SplittableRandom(42);
        int[] x = new int[B * T];
        int[] y = new int[B * T];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextInt(c.vocabSize());
            y[i] = r.nextInt(c.vocabSize());
        }
        try (Engine s = new Engine(c, Initializer.init(c), B, T, SessionOptions.DEFAULT, ops)) {
            int warm = Math.max(1, steps / 3);
            long fwd = 0;
            long bwd = 0;
            long upd = 0;
            long alloc0 = 0;
            for (int i = 0; i < steps; i++) {
                if (i == warm) {
                    ops.t.clear();
                    fwd = bwd = upd = 0;
                    alloc0 = allocatedBytes();
                }
                long t0 = System.nanoTime();
                s.forward(x, y);
                long t1 = System.nanoTime();
                s.backward();
                long t2 = System.nanoTime();
                double norm = s.gradNorm();
                s.step(AdamW.of(0.1), 1e-4, norm > 1 ? 1 / norm : 1);
                long t3 = System.nanoTime();
                fwd += t1 - t0;
                bwd += t2 - t1;
                upd += t3 - t2;
                System.out.printf("step %d: fwd %.1f ms, bwd %.1f ms, update %.1f ms%n", i, (t1 - t0) / 1e6,
                        (t2 - t1) / 1e6, (t3 - t2) / 1e6);
            }
            int n = steps - warm;
            long alloc = allocatedBytes() - alloc0;
            double total = (fwd + bwd + upd) / 1e6 / n;
            System.out.printf("%nmean of %d steps: fwd %.1f ms, bwd %.1f ms, update %.1f ms, step %.1f ms, %.1f GFLOP/s%n",
                    n, fwd / 1e6 / n, bwd / 1e6 / n, upd / 1e6 / n, total,
                    Gpt2StepBenchmark.flopsPerStep(c, B, T) / (total * 1e6));
            double opsSum = 0;
            for (var e : ops.t.entrySet()) {
                double ms = e.getValue()[0] / 1e6 / n;
                opsSum += ms;
                System.out.printf("  %-36s %8.2f ms/step  (%d calls)%n", e.getKey(), ms, e.getValue()[1] / n);
            }
            System.out.printf("  %-36s %8.2f ms/step%n", "engine (outside Ops)", total - opsSum);
            System.out.printf("heap allocated per step, all threads: %d bytes (includes this profiler's own bookkeeping)%n",
                    alloc / n);
        }
    }
}
