package io.resflow.jvm.bench;

import io.resflow.engine.AdamW;
import io.resflow.engine.Engine;
import io.resflow.engine.Precision;
import io.resflow.engine.SessionOptions;
import io.resflow.jvm.JvmOps;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The GPT-2 small training step of {@link Gpt2StepBenchmark} (B=4, T=64: forward with loss, backward, gradient norm,
 * AdamW) in fp32 and in bf16, side by side in one run ({@code -p dtype=fp32,bf16}, the default). The bf16 step
 * includes remaking the 16-bit weight copies once (its forward's first use of each weight).
 */
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xms6g", "-Xmx6g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class Bf16StepBenchmark extends JmhDefaults {
    static final int B = Gpt2StepBenchmark.B;
    static final int T = Gpt2StepBenchmark.T;

    @Param({"fp32", "bf16"})
    public String dtype;

    Engine session;
    int[] inputs;
    int[] targets;
    final AdamW opt = AdamW.of(0.1);

    public static Work work(String method, java.util.Map<String, String> params) {
        return Work.flops(Gpt2StepBenchmark.flopsPerStep(Gpt2StepBenchmark.gpt2Small(), B, T));
    }

    @Setup(Level.Trial)
    public void setup() {
        ModelConfig c = Gpt2StepBenchmark.gpt2Small();
        Precision p = Precision.parse(dtype, "dtype");
        session = new Engine(c, Initializer.init(c), B, T, SessionOptions.DEFAULT.withPrecision(p),
                new JvmOps(Runtime.getRuntime().availableProcessors(), p));
        int[][] io = Gpt2StepBenchmark.tokens(c);
        inputs = io[0];
        targets = io[1];
    }

    @TearDown(Level.Trial)
    public void close() {
        session.close();
    }

    @Benchmark
    public double step() {
        return Gpt2StepBenchmark.step(session, inputs, targets, opt);
    }
}
