package io.resflow.jvm.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The JMH settings every benchmark here starts from (JMH's class annotations are inherited): average time per call
 * in microseconds, one fork with the Vector API module, 3 warm-up and 5 measured iterations of 1 s, one shared state,
 * and seeded uniform inputs.
 * A benchmark states only what it changes (a larger heap, milliseconds, a per-thread state).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Benchmark)
public abstract class JmhDefaults {

    /** n floats uniform in [lo, hi), the same for the same seed: every benchmark's inputs. */
    protected static float[] uniform(int n, long seed, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (lo + (hi - lo) * r.nextDouble());
        }
        return a;
    }
}
