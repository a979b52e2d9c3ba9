package io.resflow.jvm.bench;

import io.resflow.reference.Attention;
import io.resflow.reference.CrossEntropy;
import io.resflow.reference.LayerNorm;
import io.resflow.reference.Matmul;
import io.resflow.reference.RmsNorm;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Setup;

/**
 * The reference ops ({@code io.resflow.reference}: scalar, single-threaded, double accumulation; the oracle every
 * backend is checked against), timed the same way as the backends' kernels: microseconds per call, and through
 * {@link #work} and {@link JmhTable} GFLOP/s (matmuls, attention) or GB/s (norms, cross-entropy).
 *
 * <p>Shapes are smaller than the backends' (the reference is 2-3 orders of magnitude slower): matmul N x C x OC =
 * 64 x 768 x 768 (forward, dinp, dW; 2 N C OC FLOPs each); attention B=4, T=64, 12 heads of 64, causal (4 hd FLOPs
 * per (t, s) pair forward, 8 hd backward); LayerNorm / RMSNorm 256 x 768; cross-entropy 32 rows x 50257 (forward and
 * backward). Bytes: every array the op reads or writes, once. The backward ops accumulate (+=), as in the reference.
 */
@Fork(1)
public class ReferenceKernelsBenchmark extends JmhDefaults {
    static final int MN = 64;
    static final int MC = 768;
    static final int MOC = 768;
    static final int B = 4;
    static final int T = 64;
    static final int NH = 12;
    static final int HD = 64;
    static final int N = 256;
    static final int C = 768;
    static final int CE_N = 32;
    static final int V = 50257;
    static final float EPS = 1e-5f;

    static final int MM_KFLOP = (int) (2L * MN * MC * MOC / 1000);
    static final long PAIRS = (long) B * NH * T * (T + 1) / 2;
    static final int ATT_FWD_KFLOP = (int) (4L * HD * PAIRS / 1000);
    static final int ATT_BWD_KFLOP = (int) (8L * HD * PAIRS / 1000);
    /** LayerNorm forward: read x, w, b; write y, mean, rstd. */
    static final int LN_FWD_KB = (int) (4L * (2L * N * C + 2L * C + 2L * N) / 1000);
    /** LayerNorm backward: read x, dy, w, mean, rstd; dx, dw, db read and written (+=). */
    static final int LN_BWD_KB = (int) (4L * (4L * N * C + C + 4L * C + 2L * N) / 1000);
    /** RMSNorm forward: read x, w; write y, rstd. */
    static final int RMS_FWD_KB = (int) (4L * (2L * N * C + C + N) / 1000);
    /** RMSNorm backward: read x, dy, w, rstd; dx, dw read and written (+=). */
    static final int RMS_BWD_KB = (int) (4L * (4L * N * C + C + 2L * C + N) / 1000);
    /** Cross-entropy forward (read logits, targets; write probs, losses) + backward (read probs, targets; dlogits
     *  read and written, +=). */
    static final int CE_KB = (int) (4L * (4L * CE_N * V + CE_N + CE_N + CE_N) / 1000);

    /** FLOPs or bytes of one call (see {@link Work}). */
    public static Work work(String method, java.util.Map<String, String> params) {
        return switch (method) {
            case "matmulForward" -> Work.flops(1000.0 * MM_KFLOP);
            case "matmulBackwardInput" -> Work.flops(1000.0 * MM_KFLOP);
            case "matmulBackwardWeight" -> Work.flops(1000.0 * MM_KFLOP);
            case "attentionForward" -> Work.flops(1000.0 * ATT_FWD_KFLOP);
            case "attentionBackward" -> Work.flops(1000.0 * ATT_BWD_KFLOP);
            case "layerNormForward" -> Work.bytes(1000.0 * LN_FWD_KB);
            case "layerNormBackward" -> Work.bytes(1000.0 * LN_BWD_KB);
            case "rmsNormForward" -> Work.bytes(1000.0 * RMS_FWD_KB);
            case "rmsNormBackward" -> Work.bytes(1000.0 * RMS_BWD_KB);
            case "crossEntropy" -> Work.bytes(1000.0 * CE_KB);
            default -> throw new IllegalArgumentException(method);
        };
    }

    float[] inp, w, b, out, dout, dinp, dw;
    float[] qkv, att, probs, dAtt, dqkv;
    float[] x, lnW, lnB, y, mean, rstd, rmsRstd, dy, dx, dLnW, dLnB;
    float[] logits, ceProbs, losses, dlogits;
    int[] targets;


    @Setup
    public void setup() {
        inp = uniform(MN * MC, 1, -1, 1);
        w = uniform(MOC * MC, 2, -0.1, 0.1);
        b = uniform(MOC, 3, -0.1, 0.1);
        dout = uniform(MN * MOC, 4, -1, 1);
        out = new float[MN * MOC];
        dinp = new float[MN * MC];
        dw = new float[MOC * MC];

        qkv = uniform(B * T * 3 * NH * HD, 5, -1, 1);
        att = new float[B * T * NH * HD];
        probs = new float[(int) Attention.stateSize(B, T, NH)];
        Attention.forward(att, probs, qkv, B, T, NH, NH, HD);
        dAtt = uniform(att.length, 6, -1, 1);
        dqkv = new float[qkv.length];

        x = uniform(N * C, 7, -1.5, 2.5);
        lnW = uniform(C, 8, 0.5, 1.5);
        lnB = uniform(C, 9, -0.5, 0.5);
        dy = uniform(N * C, 10, -1, 1);
        y = new float[N * C];
        mean = new float[N];
        rstd = new float[N];
        LayerNorm.forward(y, mean, rstd, x, lnW, lnB, N, C, EPS);
        rmsRstd = new float[N];
        RmsNorm.forward(y, rmsRstd, x, lnW, N, C, EPS);
        dx = new float[N * C];
        dLnW = new float[C];
        dLnB = new float[C];

        logits = uniform(CE_N * V, 11, -4, 4);
        targets = new int[CE_N];
        SplittableRandom r = new SplittableRandom(12);
        for (int i = 0; i < CE_N; i++) {
            targets[i] = r.nextInt(V);
        }
        ceProbs = new float[CE_N * V];
        losses = new float[CE_N];
        dlogits = new float[CE_N * V];
    }

    @Benchmark
    public float[] matmulForward() {
        Matmul.forward(out, inp, w, b, MN, MC, MOC);
        return out;
    }

    @Benchmark
    public float[] matmulBackwardInput() {
        Matmul.backward(dinp, null, null, dout, inp, w, MN, MC, MOC);
        return dinp;
    }

    @Benchmark
    public float[] matmulBackwardWeight() {
        Matmul.backward(null, dw, null, dout, inp, w, MN, MC, MOC);
        return dw;
    }

    @Benchmark
    public float[] attentionForward() {
        Attention.forward(att, probs, qkv, B, T, NH, NH, HD);
        return att;
    }

    @Benchmark
    public float[] attentionBackward() {
        Attention.backward(dqkv, dAtt, qkv, probs, B, T, NH, NH, HD);
        return dqkv;
    }

    @Benchmark
    public float[] layerNormForward() {
        LayerNorm.forward(y, mean, rstd, x, lnW, lnB, N, C, EPS);
        return y;
    }

    @Benchmark
    public float[] layerNormBackward() {
        LayerNorm.backward(dx, dLnW, dLnB, dy, x, lnW, mean, rstd, N, C);
        return dx;
    }

    @Benchmark
    public float[] rmsNormForward() {
        RmsNorm.forward(y, rmsRstd, x, lnW, N, C, EPS);
        return y;
    }

    @Benchmark
    public float[] rmsNormBackward() {
        RmsNorm.backward(dx, dLnW, dy, x, lnW, rmsRstd, N, C);
        return dx;
    }

    @Benchmark
    public float[] crossEntropy() {
        CrossEntropy.forward(losses, ceProbs, logits, targets, CE_N, V);
        CrossEntropy.backward(dlogits, ceProbs, targets, CE_N, V);
        return dlogits;
    }
}
