package io.resflow.jvm.bench;

import io.resflow.engine.Precision;
import io.resflow.jvm.JvmOps;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * bf16 against fp32, side by side in one run, on GPT-2 124M's products: the one-row product of a decode step (GEMV,
 * N = 1: bound by the weight bytes it streams, half in bf16) and the forward GEMM of a training step (N = 256). Both
 * run on the same weights; the bf16 ops read their 16-bit copies, made once (as a decoder does at open, or a training
 * step before its forward), not per call. {@code N x C x OC} as in {@link SgemmBenchmark}; {@link JmhTable} prints
 * GFLOP/s and, for the GEMV, the weight GB/s.
 */
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
public class Bf16Benchmark extends JmhDefaults {
    @Param({"1x768x2304", "1x768x3072", "1x3072x768", "1x768x50257", "256x768x3072"})
    public String shape;

    int N;
    int C;
    int OC;
    float[] inp, w, b, out;
    JvmOps fp32;
    JvmOps bf16;

    /** 2 N C OC FLOPs; bytes: the weight as each precision stores it (what a GEMV streams). */
    public static Work work(String method, Map<String, String> params) {
        int[] d = SgemmBenchmark.dims(params.get("shape"));
        double n = d[0], c = d[1], oc = d[2];
        return new Work(2 * n * c * oc, (method.startsWith("bf16") ? 2 : 4) * c * oc);
    }

    @Setup
    public void setup() {
        int[] d = SgemmBenchmark.dims(shape);
        N = d[0];
        C = d[1];
        OC = d[2];
        inp = uniform(N * C, 1, -1, 1);
        io.resflow.reference.Bf16.round(inp, inp.length);
        w = uniform(OC * C, 2, -1, 1);
        b = uniform(OC, 3, -1, 1);
        out = new float[N * OC];
        fp32 = new JvmOps();
        bf16 = new JvmOps(Runtime.getRuntime().availableProcessors(), Precision.BF16);
        bf16.prepareWeight(w);
    }

    @Benchmark
    public float[] fp32() {
        fp32.matmulForward(out, inp, w, b, N, C, OC);
        return out;
    }

    @Benchmark
    public float[] bf16() {
        bf16.matmulForward(out, inp, w, b, N, C, OC);
        return out;
    }
}
