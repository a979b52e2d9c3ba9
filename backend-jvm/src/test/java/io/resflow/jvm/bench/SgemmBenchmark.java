package io.resflow.jvm.bench;

import io.resflow.jvm.JvmOps;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * The three products of every linear layer of GPT-2 124M at B=4, T=64 (N = 256 rows), on all cores, N x C -> OC:
 * q|k|v 768x2304, attention projection 768x768, MLP up 768x3072 and down 3072x768, and the tied output head
 * 768x50257. forward: out = inp W^T + b; backwardInput: dinp += dout W; backwardWeight: dW += dout^T inp;
 * 2 N C OC FLOPs each ({@link JmhTable} turns the time into GFLOP/s and a fraction of the FMA peak).
 */
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
public class SgemmBenchmark extends JmhDefaults {
    /** N x C x OC. */
    @Param({"256x768x2304", "256x768x768", "256x768x3072", "256x3072x768", "256x768x50257"})
    public String shape;

    int N;
    int C;
    int OC;
    float[] inp, w, b, out, dout, dinp, dw;
    JvmOps ops;

    static int[] dims(String shape) {
        String[] p = shape.split("x");
        return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2])};
    }

    /** 2 N C OC FLOPs; bytes: the three matrices once (what a call must at least move). */
    public static Work work(String method, Map<String, String> params) {
        int[] d = dims(params.get("shape"));
        double n = d[0], c = d[1], oc = d[2];
        double bytes = 4 * (n * c + c * oc + n * oc) * (method.equals("forward") ? 1 : 1.5);
        return new Work(2 * n * c * oc, bytes);
    }


    @Setup
    public void setup() {
        int[] d = dims(shape);
        N = d[0];
        C = d[1];
        OC = d[2];
        inp = uniform(N * C, 1, -1, 1);
        w = uniform(OC * C, 2, -1, 1);
        b = uniform(OC, 3, -1, 1);
        dout = uniform(N * OC, 4, -1, 1);
        out = new float[N * OC];
        dinp = new float[N * C];
        dw = new float[OC * C];
        ops = new JvmOps();
    }

    @Benchmark
    public float[] forward() {
        ops.matmulForward(out, inp, w, b, N, C, OC);
        return out;
    }

    @Benchmark
    public float[] backwardInput() {
        ops.matmulBackward(dinp, null, null, dout, inp, w, N, C, OC, false);
        return dinp;
    }

    @Benchmark
    public float[] backwardWeight() {
        ops.matmulBackward(null, dw, null, dout, inp, w, N, C, OC, false);
        return dw;
    }
}
