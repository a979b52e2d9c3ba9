package io.resflow.jvm.bench;

import io.resflow.jvm.JvmOps;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The non-GEMM kernels at GPT-2 small sizes on all cores (microseconds per call): fused attention forward / backward
 * (12 heads of 64; B x T = 4 x 64 as in the training-step benchmark, and 1 x 1024), LayerNorm (256 x 768) and the
 * fused cross-entropy over the 50257-token vocabulary (256 rows).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Benchmark)
public class KernelsBenchmark {
    static final int NH = 12;
    static final int HD = 64;
    static final int C = 768;
    static final int V = 50257;

    /** Attention batch x sequence length. */
    @Param({"4x64", "1x1024"})
    public String bt;

    int B;
    int T;
    int N;
    JvmOps ops;
    float[] qkv, att, attState, dAtt, dQkv;
    float[] x, lnOut, mean, rstd, lnW, lnB, dLn, dx, dLnW, dLnB;
    float[] logits, probs, losses, dlogits;
    int[] targets;

    static float[] rand(int n, long seed, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        }
        return a;
    }

    @Setup
    public void setup() {
        String[] p = bt.split("x");
        B = Integer.parseInt(p[0]);
        T = Integer.parseInt(p[1]);
        N = 256; // rows of the norm and cross-entropy benchmarks (the training step's B*T)
        ops = new JvmOps();
        int width = 3 * NH * HD;
        qkv = rand(B * T * width, 1, 1);
        att = new float[B * T * NH * HD];
        attState = new float[(int) ops.attentionStateSize(B, T, NH)];
        dAtt = rand(B * T * NH * HD, 2, 1);
        dQkv = new float[B * T * width];
        ops.attentionForward(att, attState, qkv, B, T, NH, NH, HD);
        x = rand(N * C, 3, 1);
        lnOut = new float[N * C];
        mean = new float[N];
        rstd = new float[N];
        lnW = rand(C, 4, 1);
        lnB = rand(C, 5, 1);
        dLn = rand(N * C, 6, 1);
        dx = new float[N * C];
        dLnW = new float[C];
        dLnB = new float[C];
        ops.layerNormForward(lnOut, mean, rstd, x, lnW, lnB, N, C, 1e-5f);
        logits = rand(N * V, 7, 4);
        probs = new float[N * V];
        losses = new float[N];
        dlogits = new float[N * V];
        targets = new int[N];
        SplittableRandom r = new SplittableRandom(8);
        for (int i = 0; i < N; i++) {
            targets[i] = r.nextInt(V);
        }
        ops.crossEntropyForward(losses, probs, logits, targets, N, V);
    }

    @Benchmark
    public float[] attentionForward() {
        ops.attentionForward(att, attState, qkv, B, T, NH, NH, HD);
        return att;
    }

    @Benchmark
    public float[] attentionBackward() {
        ops.attentionBackward(dQkv, dAtt, qkv, att, attState, B, T, NH, NH, HD);
        return dQkv;
    }

    @Benchmark
    public float[] layerNormForward() {
        ops.layerNormForward(lnOut, mean, rstd, x, lnW, lnB, N, C, 1e-5f);
        return lnOut;
    }

    @Benchmark
    public float[] layerNormBackward() {
        ops.layerNormBackward(dx, dLnW, dLnB, dLn, x, lnW, mean, rstd, N, C);
        return dx;
    }

    @Benchmark
    public double crossEntropyForward() {
        return ops.crossEntropyForward(losses, probs, logits, targets, N, V);
    }

    @Benchmark
    public float[] crossEntropyBackward() {
        ops.crossEntropyBackward(dlogits, probs, targets, N, V);
        return dlogits;
    }
}
