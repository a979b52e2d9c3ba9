package io.resflow.jvm.bench;

import io.resflow.engine.AdamW;
import io.resflow.engine.Engine;
import io.resflow.engine.SessionOptions;
import io.resflow.jvm.JvmOps;
import io.resflow.model.Activation;
import io.resflow.model.Family;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Norm;
import io.resflow.model.Positions;
import io.resflow.model.Residual;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One GPT-2 small (124M) training step on the jvm backend, B=4, T=64, seeded weights from Initializer: forward (with
 * the loss), backward, update (global gradient norm + AdamW), and the whole step. FLOPs per step =
 * 6 * params * tokens + attention (12 * n_layer * d_model * T per token, the PaLM count), printed at the end of the
 * trial; {@link JmhTable} gives GFLOP/s and the fraction of the FMA peak measured in the same run.
 */
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xms6g", "-Xmx6g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class Gpt2StepBenchmark extends JmhDefaults {
    static final int B = 4;
    static final int T = 64;

    ModelConfig config;
    Engine session;
    int[] inputs;
    int[] targets;
    AdamW opt = AdamW.of(0.1);

    public static ModelConfig gpt2Small() {
        return new ModelConfig(Family.GPT2, 12, 768, 12, 12, 64, 3072, 50257, 1024, Norm.LAYERNORM, 1e-5,
                Activation.GELU_TANH, Positions.LEARNED, 10000, true, Residual.PRE, 1234);
    }

    /** 6 N D + attention FLOPs of one training step. */
    public static double flopsPerStep(ModelConfig c, int b, int t) {
        double tokens = (double) b * t;
        return 6.0 * c.parameterCount() * tokens + 12.0 * c.nLayer() * c.dModel() * t * tokens;
    }

    /**
     * FLOPs of a call: forward 2 N D + attention, backward twice that, the step three times (6 N D + attention);
     * update: bytes (reads p, g, m, v and writes p, m, v once; plus the gradient-norm pass over g).
     */
    public static Work work(String method, java.util.Map<String, String> params) {
        ModelConfig c = gpt2Small();
        double step = flopsPerStep(c, B, T);
        return switch (method) {
            case "forward" -> Work.flops(step / 3);
            case "backward" -> Work.flops(2 * step / 3);
            case "update" -> Work.bytes(4.0 * 8 * c.parameterCount());
            case "step" -> Work.flops(step);
            default -> throw new IllegalArgumentException(method);
        };
    }

    @Setup(Level.Trial)
    public void setup() {
        config = gpt2Small();
        session = new Engine(config, Initializer.init(config), B, T, SessionOptions.DEFAULT, new JvmOps());
        int[][] io = tokens(config);
        inputs = io[0];
        targets = io[1];
        session.forward(inputs, targets);
        session.backward();
    }

    @TearDown(Level.Trial)
    public void report() {
        System.out.printf("%nGPT-2 small: %d parameters, B=%d T=%d, %.3f GFLOP per training step%n",
                config.parameterCount(), B, T, flopsPerStep(config, B, T) / 1e9);
        session.close();
    }

    @Benchmark
    public double forward() {
        return session.forward(inputs, targets);
    }

    @Benchmark
    public Object backward() {
        session.backward();
        return session;
    }

    @Benchmark
    public double update() {
        double norm = session.gradNorm();
        session.step(opt, 1e-4, norm > 1.0 ? 1.0 / norm : 1.0);
        return norm;
    }

    @Benchmark
    public double step() {
        return step(session, inputs, targets, opt);
    }

    /** Seeded inputs and targets of B x T tokens. */
    static int[][] tokens(ModelConfig c) {
        SplittableRandom r = new SplittableRandom(42);
        int[][] io = new int[2][B * T];
        for (int i = 0; i < B * T; i++) {
            io[0][i] = r.nextInt(c.vocabSize());
            io[1][i] = r.nextInt(c.vocabSize());
        }
        return io;
    }

    /** One training step: forward with loss, backward, clipping to norm 1, AdamW; returns the loss. */
    static double step(Engine session, int[] inputs, int[] targets, AdamW opt) {
        double loss = session.forward(inputs, targets);
        session.backward();
        double norm = session.gradNorm();
        session.step(opt, 1e-4, norm > 1.0 ? 1.0 / norm : 1.0);
        return loss;
    }
}
