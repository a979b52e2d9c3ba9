package io.resflow.jvm.bench;

import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The FMA ceiling the kernels are measured against: 12 independent {@code FloatVector.fma} chains per thread (enough
 * to cover the FMA latency on two pipes), nothing else in the loop. One op = one FLOP and the unit is ops/ns, so the
 * score reads directly as GFLOP/s (JMH sums the threads of a multi-threaded run).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Thread)
public class FmaPeakBenchmark {
    static final VectorSpecies<Float> SP = FloatVector.SPECIES_PREFERRED;
    /** Floats processed per invocation per chain: 2^16 lanes, i.e. 2^16 / L iterations. */
    static final int LANES = 1 << 16;
    static final int CHAINS = 12;
    static final int FLOPS = LANES * CHAINS * 2;

    private final float[] x = {0.9999f, 1e-4f};

    private float run() {
        FloatVector a = FloatVector.broadcast(SP, x[0]);
        FloatVector b = FloatVector.broadcast(SP, x[1]);
        FloatVector c0 = FloatVector.broadcast(SP, 0.1f), c1 = c0.add(0.01f), c2 = c0.add(0.02f), c3 = c0.add(0.03f);
        FloatVector c4 = c0.add(0.04f), c5 = c0.add(0.05f), c6 = c0.add(0.06f), c7 = c0.add(0.07f);
        FloatVector c8 = c0.add(0.08f), c9 = c0.add(0.09f), c10 = c0.add(0.10f), c11 = c0.add(0.11f);
        for (int i = 0; i < LANES; i += SP.length()) {
            c0 = c0.fma(a, b);
            c1 = c1.fma(a, b);
            c2 = c2.fma(a, b);
            c3 = c3.fma(a, b);
            c4 = c4.fma(a, b);
            c5 = c5.fma(a, b);
            c6 = c6.fma(a, b);
            c7 = c7.fma(a, b);
            c8 = c8.fma(a, b);
            c9 = c9.fma(a, b);
            c10 = c10.fma(a, b);
            c11 = c11.fma(a, b);
        }
        return c0.add(c1).add(c2.add(c3)).add(c4.add(c5).add(c6.add(c7))).add(c8.add(c9).add(c10.add(c11))).lane(0);
    }

    /** All cores: one benchmark thread per available processor. */
    @Benchmark
    @Threads(Threads.MAX)
    @OperationsPerInvocation(FLOPS)
    public float fmaPeakAllCores() {
        return run();
    }

    @Benchmark
    @Threads(1)
    @OperationsPerInvocation(FLOPS)
    public float fmaPeakOneCore() {
        return run();
    }
}
