package io.resflow.jvm.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;

/**
 * The FMA ceiling the kernels are measured against: 12 independent accumulators {@code c = a.fma(b, c)} per thread
 * (enough to cover the FMA latency on two pipes), nothing else in the loop. The accumulator is the addend, as in
 * every kernel: written as {@code c.fma(a, b)} (c the multiplicand, a constant addend) C2 copies the addend into a
 * fresh register before every FMA and spills, which measured 30% below this peak on AVX2. {@link JmhTable} reports
 * it in GFLOP/s (all cores: one benchmark thread per processor, summed) and every other kernel as a fraction of it.
 */
@State(Scope.Thread)
public class FmaPeakBenchmark extends JmhDefaults {
    static final VectorSpecies<Float> SP = FloatVector.SPECIES_PREFERRED;
    /** Floats processed per invocation per chain: 2^16 lanes, i.e. 2^16 / L iterations. */
    static final int LANES = 1 << 16;
    static final int CHAINS = 12;
    static final int FLOPS = LANES * CHAINS * 2;

    private final float[] x = {0.9999f, 1e-4f};

    /** FLOPs of one call (per benchmark thread). */
    public static Work work(String method, java.util.Map<String, String> params) {
        return Work.flops(FLOPS);
    }

    // Twelve independent accumulators written out on purpose: a loop over an array of vectors would not stay in
    // registers, and fewer chains than (FMA latency x FMA ports) cannot keep both pipes busy.
    private float run() {
        FloatVector a = FloatVector.broadcast(SP, x[0]);
        FloatVector b = FloatVector.broadcast(SP, x[1]);
        FloatVector c0 = FloatVector.broadcast(SP, 0.1f), c1 = c0.add(0.01f), c2 = c0.add(0.02f), c3 = c0.add(0.03f);
        FloatVector c4 = c0.add(0.04f), c5 = c0.add(0.05f), c6 = c0.add(0.06f), c7 = c0.add(0.07f);
        FloatVector c8 = c0.add(0.08f), c9 = c0.add(0.09f), c10 = c0.add(0.10f), c11 = c0.add(0.11f);
        for (int i = 0; i < LANES; i += SP.length()) {
            c0 = a.fma(b, c0);
            c1 = a.fma(b, c1);
            c2 = a.fma(b, c2);
            c3 = a.fma(b, c3);
            c4 = a.fma(b, c4);
            c5 = a.fma(b, c5);
            c6 = a.fma(b, c6);
            c7 = a.fma(b, c7);
            c8 = a.fma(b, c8);
            c9 = a.fma(b, c9);
            c10 = a.fma(b, c10);
            c11 = a.fma(b, c11);
        }
        return c0.add(c1).add(c2.add(c3)).add(c4.add(c5).add(c6.add(c7))).add(c8.add(c9).add(c10.add(c11))).lane(0);
    }

    /** All cores: one benchmark thread per available processor. */
    @Benchmark
    @Threads(Threads.MAX)
    public float fmaPeakAllCores() {
        return run();
    }

    @Benchmark
    @Threads(1)
    public float fmaPeakOneCore() {
        return run();
    }
}
