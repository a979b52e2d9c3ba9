package io.resflow.jvm.bench;

import io.resflow.engine.AdamW;
import io.resflow.engine.Engine;
import io.resflow.engine.Ops;
import io.resflow.engine.SessionOptions;
import io.resflow.jvm.JvmOps;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * Where the time of a GPT-2 small training step goes: wall time per Ops call kind (matmuls split by shape), the
 * Engine's own work (gradient zeroing, ...) as the remainder. Not a JMH benchmark, a diagnostic:
 * {@code java --add-modules jdk.incubator.vector -cp <test class path> io.resflow.jvm.bench.StepProfile [steps] [threads]}.
 */
public final class StepProfile {

    /**
     * An Ops that times every call of its delegate, by method name (the matmuls by shape too, N x C x OC), as a
     * dynamic proxy: the reflective call costs well under a microsecond against kernels of a millisecond and more.
     */
    static final class TimedOps implements InvocationHandler {
        final Ops d;
        final Ops ops;
        final Map<String, long[]> t = new TreeMap<>();

        TimedOps(Ops d) {
            this.d = d;
            this.ops = (Ops) Proxy.newProxyInstance(Ops.class.getClassLoader(), new Class<?>[] {Ops.class}, this);
        }

        @Override
        public Object invoke(Object proxy, Method m, Object[] a) throws Throwable {
            long t0 = System.nanoTime();
            Object r;
            try {
                r = m.invoke(d, a);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
            if (m.getDeclaringClass() == Ops.class && !m.getName().equals("describe")
                    && !m.getName().equals("attentionStateSize")) {
                String k = m.getName();
                if (k.startsWith("matmul")) {
                    k += " " + a[a.length - 3] + "x" + a[a.length - 2] + "x" + a[a.length - 1];
                }
                long[] e = t.computeIfAbsent(k, x -> new long[2]);
                e[0] += System.nanoTime() - t0;
                e[1]++;
            }
            return r;
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
        try (Engine s = new Engine(c, Initializer.init(c), B, T, SessionOptions.DEFAULT, ops.ops)) {
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
