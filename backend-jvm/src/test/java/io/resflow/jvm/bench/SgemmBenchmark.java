package io.resflow.jvm.bench;

import io.resflow.jvm.JvmOps;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The three products of a linear layer on all cores, N x C -> OC. Both shapes do 2*256*768*3072 FLOPs, so one op =
 * one FLOP and the ops/ns score reads as GFLOP/s. forward: out = inp W^T + b; backwardInput: dinp += dout W;
 * backwardWeight: dW += dout^T inp.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Benchmark)
public class SgemmBenchmark {
    static final int FLOPS = 2 * 256 * 768 * 3072;

    /** N x C x OC. */
    @Param({"256x768x3072", "256x3072x768"})
    public String shape;

    int N;
    int C;
    int OC;
    float[] inp, w, b, out, dout, dinp, dw;
    JvmOps ops;

    static float[] rand(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return a;
    }

    @Setup
    public void setup() {
        String[] p = shape.split("x");
        N = Integer.parseInt(p[0]);
        C = Integer.parseInt(p[1]);
        OC = Integer.parseInt(p[2]);
        if (2L * N * C * OC != FLOPS) {
            throw new IllegalArgumentException("FLOP count of " + shape + " is not " + FLOPS);
        }
        inp = rand(N * C, 1);
        w = rand(OC * C, 2);
        b = rand(OC, 3);
        dout = rand(N * OC, 4);
        out = new float[N * OC];
        dinp = new float[N * C];
        dw = new float[OC * C];
        ops = new JvmOps();
    }

    @Benchmark
    @OperationsPerInvocation(FLOPS)
    public float[] forward() {
        ops.matmulForward(out, inp, w, b, N, C, OC);
        return out;
    }

    @Benchmark
    @OperationsPerInvocation(FLOPS)
    public float[] backwardInput() {
        ops.matmulBackward(dinp, null, null, dout, inp, w, N, C, OC);
        return dinp;
    }

    @Benchmark
    @OperationsPerInvocation(FLOPS)
    public float[] backwardWeight() {
        ops.matmulBackward(null, dw, null, dout, inp, w, N, C, OC);
        return dw;
    }
}
