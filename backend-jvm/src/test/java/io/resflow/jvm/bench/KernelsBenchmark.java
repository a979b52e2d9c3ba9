package io.resflow.jvm.bench;

import io.resflow.jvm.JvmOps;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Setup;

/**
 * The memory-bound kernels at GPT-2 small sizes on all cores (microseconds per call, GB/s through {@link JmhTable}):
 * LayerNorm (256 x 768) and the fused cross-entropy over the 50257-token vocabulary (256 rows). Attention is in
 * {@link AttentionBenchmark}.
 */
public class KernelsBenchmark extends JmhDefaults {
    static final int C = 768;
    static final int V = 50257;

    int N;
    JvmOps ops;
    float[] x, lnOut, mean, rstd, lnW, lnB, dLn, dx, dLnW, dLnB;
    float[] logits, probs, losses, dlogits;
    int[] targets;

    /** Bytes each call must move: every array it reads or writes, once (read-modify-write counts twice). */
    public static Work work(String method, java.util.Map<String, String> params) {
        double n = 256;
        return Work.bytes(4 * switch (method) {
            case "layerNormForward" -> 2 * n * C + 2 * C + 2 * n;
            case "layerNormBackward" -> 4 * n * C + C + 4 * C + 2 * n;
            case "crossEntropyForward" -> 2 * n * V + 2 * n;
            case "crossEntropyBackward" -> 3 * n * V + n;
            default -> throw new IllegalArgumentException(method);
        });
    }


    @Setup
    public void setup() {
        N = 256; // rows: the training step's B*T
        ops = new JvmOps();
        x = uniform(N * C, 3, -1, 1);
        lnOut = new float[N * C];
        mean = new float[N];
        rstd = new float[N];
        lnW = uniform(C, 4, -1, 1);
        lnB = uniform(C, 5, -1, 1);
        dLn = uniform(N * C, 6, -1, 1);
        dx = new float[N * C];
        dLnW = new float[C];
        dLnB = new float[C];
        ops.layerNormForward(lnOut, mean, rstd, x, lnW, lnB, N, C, 1e-5f);
        logits = uniform(N * V, 7, -4, 4);
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
    public float[] layerNormForward() {
        ops.layerNormForward(lnOut, mean, rstd, x, lnW, lnB, N, C, 1e-5f);
        return lnOut;
    }

    @Benchmark
    public float[] layerNormBackward() {
        ops.layerNormBackward(dx, dLnW, dLnB, dLn, x, lnW, mean, rstd, N, C, false);
        return dx;
    }

    @Benchmark
    public double crossEntropyForward() {
        return ops.crossEntropyForward(losses, probs, logits, targets, N, V);
    }

    @Benchmark
    public float[] crossEntropyBackward() {
        ops.crossEntropyBackward(dlogits, probs, targets, N, V, false);
        return dlogits;
    }
}
