package io.resflow.jvm.bench;

import io.resflow.jvm.JvmOps;
import java.util.Map;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * The fused causal attention of GPT-2 small (12 heads of 64) on all cores, at B x T = 4 x 64 (the training-step
 * shape) and 1 x 1024: forward, backward, and both (one training step's attention). FLOPs count the causal products
 * only, as the runner's {@code Flops} does: forward 2 products (q k^T, P v) of 2 hd FLOPs per (query, key) pair with
 * key <= query, backward 4 products.
 */
public class AttentionBenchmark extends JmhDefaults {
    static final int NH = 12;
    static final int HD = 64;

    /** Batch x sequence length. */
    @Param({"4x64", "1x1024"})
    public String bt;

    int B;
    int T;
    JvmOps ops;
    float[] qkv, att, state, dAtt, dQkv;

    public static Work work(String method, Map<String, String> params) {
        String[] p = params.get("bt").split("x");
        double b = Integer.parseInt(p[0]);
        double t = Integer.parseInt(p[1]);
        double pairs = b * NH * t * (t + 1) / 2;
        double fwd = 2 * 2 * HD * pairs;
        return Work.flops(switch (method) {
            case "forward" -> fwd;
            case "backward" -> 2 * fwd;
            case "forwardBackward" -> 3 * fwd;
            default -> throw new IllegalArgumentException(method);
        });
    }


    @Setup
    public void setup() {
        String[] p = bt.split("x");
        B = Integer.parseInt(p[0]);
        T = Integer.parseInt(p[1]);
        ops = new JvmOps();
        int width = 3 * NH * HD;
        qkv = uniform(B * T * width, 1, -1, 1);
        att = new float[B * T * NH * HD];
        state = new float[(int) ops.attentionStateSize(B, T, NH)];
        dAtt = uniform(B * T * NH * HD, 2, -1, 1);
        dQkv = new float[B * T * width];
        ops.attentionForward(att, state, qkv, B, T, NH, NH, HD);
    }

    @Benchmark
    public float[] forward() {
        ops.attentionForward(att, state, qkv, B, T, NH, NH, HD);
        return att;
    }

    @Benchmark
    public float[] backward() {
        ops.attentionBackward(dQkv, dAtt, qkv, att, state, B, T, NH, NH, HD, false);
        return dQkv;
    }

    @Benchmark
    public float[] forwardBackward() {
        ops.attentionForward(att, state, qkv, B, T, NH, NH, HD);
        ops.attentionBackward(dQkv, dAtt, qkv, att, state, B, T, NH, NH, HD, false);
        return dQkv;
    }
}
