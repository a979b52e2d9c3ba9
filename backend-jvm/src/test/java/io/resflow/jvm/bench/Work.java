package io.resflow.jvm.bench;

/**
 * What one invocation of a benchmark method does: floating-point operations (a multiply-add counts 2) and bytes
 * moved to and from memory at least once (the compulsory traffic). {@link JmhTable} turns JMH's time per invocation
 * into GFLOP/s and GB/s with it. Every benchmark class here has a method
 * {@code public static Work work(String method, java.util.Map<String, String> params)}.
 */
public record Work(double flops, double bytes) {
    public static Work flops(double flops) {
        return new Work(flops, 0);
    }

    public static Work bytes(double bytes) {
        return new Work(0, bytes);
    }
}
