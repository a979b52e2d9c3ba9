package io.resflow.tornado.bench;

import io.resflow.engine.AdamW;
import io.resflow.engine.Backend;
import io.resflow.engine.BackendProvider;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import io.resflow.model.Activation;
import io.resflow.model.Family;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Norm;
import io.resflow.model.Params;
import io.resflow.model.Positions;
import io.resflow.model.Residual;
import io.resflow.tornado.TornadoSession;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.ServiceLoader;
import java.util.SplittableRandom;

/**
 * Training-step benchmark: GPT-2 small (124M) at B=4, T=64 on the tornado backend, beside the jvm backend when its
 * module is on the class path. A step is forward + backward + AdamW; the first steps (kernel compilation, first
 * transfers) are warm-up and not timed.
 *
 * <pre>
 * java @$TORNADOVM_HOME/tornado-argfile -Xmx12g --add-modules jdk.incubator.vector -cp CLASSPATH \
 *     io.resflow.tornado.bench.TornadoBenchmark [--device 0:0] [--steps 3] [--batch 4] [--seq 64] [--layers 12]
 *     [--no-jvm] [--no-tornado]
 * </pre>
 */
public final class TornadoBenchmark {
    private TornadoBenchmark() {
    }

    public static void main(String[] args) {
        String device = "";
        int steps = 3;
        int B = 4;
        int T = 64;
        int layers = 12;
        boolean jvm = true;
        boolean tornado = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--device" -> device = args[++i];
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--batch" -> B = Integer.parseInt(args[++i]);
                case "--seq" -> T = Integer.parseInt(args[++i]);
                case "--layers" -> layers = Integer.parseInt(args[++i]);
                case "--no-jvm" -> jvm = false;
                case "--no-tornado" -> tornado = false;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        ModelConfig cfg = new ModelConfig(Family.GPT2, layers, 768, 12, 12, 64, 3072, 50257, 1024, Norm.LAYERNORM, 1e-5,
                Activation.GELU_TANH, Positions.LEARNED, 10000, true, Residual.PRE, 1234);
        System.out.printf(Locale.ROOT, "GPT-2 %d layers, %.1fM parameters, B=%d T=%d, %d timed steps%n", layers,
                cfg.parameterCount() / 1e6, B, T, steps);
        Params init = Initializer.init(cfg);
        int[] x = tokens(B * T, cfg.vocabSize(), 1);
        int[] y = tokens(B * T, cfg.vocabSize(), 2);

        List<String> lines = new ArrayList<>();
        if (tornado) {
            lines.add(run(provider("tornado").create(device), cfg, init, B, T, x, y, steps));
        }
        if (jvm) {
            BackendProvider p = provider("jvm");
            lines.add(p == null ? "jvm: backend not on the class path, skipped"
                    : run(p.create(""), cfg, init, B, T, x, y, Math.max(1, steps - 1)));
        }
        System.out.println();
        lines.forEach(System.out::println);
    }

    private static String run(Backend backend, ModelConfig cfg, Params init, int B, int T, int[] x, int[] y,
            int steps) {
        System.out.println("== " + backend.id() + ": " + backend.description());
        AdamW opt = AdamW.of(0.0);
        long t0 = System.nanoTime();
        try (Session s = backend.open(cfg, init, B, T, SessionOptions.DEFAULT)) {
            long opened = System.nanoTime();
            double warm = step(s, opt, x, y);
            long warmed = System.nanoTime();
            System.out.printf(Locale.ROOT, "  open %.1f s, first step %.1f s (loss %.4f)%n", (opened - t0) / 1e9,
                    (warmed - opened) / 1e9, warm);
            double[] times = new double[steps];
            for (int i = 0; i < steps; i++) {
                long a = System.nanoTime();
                double loss = step(s, opt, x, y);
                times[i] = (System.nanoTime() - a) / 1e9;
                String bytes = s instanceof TornadoSession ts
                        ? String.format(Locale.ROOT, ", %d B in / %d B out", ts.lastStepBytes()[0],
                                ts.lastStepBytes()[1])
                        : "";
                System.out.printf(Locale.ROOT, "  step %d: %.2f s, loss %.4f%s%n", i + 1, times[i], loss, bytes);
            }
            Arrays.sort(times);
            double median = times[times.length / 2];
            String bytes = s instanceof TornadoSession ts
                    ? String.format(Locale.ROOT, ", %d bytes in + %d bytes out per step", ts.lastStepBytes()[0],
                            ts.lastStepBytes()[1])
                    : "";
            return String.format(Locale.ROOT, "%-12s %7.2f s/step  %8.1f tokens/s%s  [%s]", backend.id(), median,
                    B * T / median, bytes, backend.description());
        }
    }

    private static double step(Session s, AdamW opt, int[] x, int[] y) {
        double loss = s.forward(x, y);
        s.backward();
        s.step(opt, 1e-4, 1.0);
        return loss;
    }

    private static BackendProvider provider(String name) {
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (p.name().equals(name)) {
                return p;
            }
        }
        return null;
    }

    private static int[] tokens(int n, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(vocab);
        }
        return t;
    }
}
