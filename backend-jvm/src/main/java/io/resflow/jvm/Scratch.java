package io.resflow.jvm;

/**
 * Per-thread scratch buffers, one per slot, grown on first use to the largest size asked for and then reused, so a
 * kernel running the same shapes again allocates nothing. Only the owning thread touches them.
 *
 * <p>Each buffer has {@link #PAD} unused floats at its end, so that two threads' buffers never share a cache line
 * whatever the collector does with them (a copying collector may place different threads' arrays next to each other).
 * A precaution: the step measured 15-20% slower under ParallelGC than under G1 on a 2-core AVX2 machine, every matmul
 * alike, and the launcher uses G1; the padding alone was not shown to close that gap.
 */
public final class Scratch {
    public static final int GEMM_PACK = 0;
    public static final int GEMM_TILE = 1;
    public static final int LANES = 2;
    // attention (see Attention): packed K and V in both layouts, a partial row tile of Q or dO, the panels of Q and dO,
    // the score and score-gradient blocks, per-row statistics
    public static final int ATT_KT = 3;
    public static final int ATT_VT = 4;
    public static final int ATT_K = 5;
    public static final int ATT_V = 6;
    public static final int ATT_TAIL = 7;
    public static final int ATT_QP = 8;
    public static final int ATT_DOP = 9;
    public static final int ATT_S = 10;
    public static final int ATT_DS = 11;
    public static final int ATT_ROW = 12;
    /** One L x L block of widened bf16 weights (Sgemm's packing of a bf16 W^T). */
    public static final int GEMM_B16 = 13;
    /** The GEMV's input in the even/odd order of its bf16 loads (Matmul). */
    public static final int GEMV_X = 14;
    private static final int SLOTS = 15;

    /** 256 bytes: past the line and the adjacent line a hardware prefetcher pairs with it. */
    static final int PAD = 64;

    private final float[][] buffers = new float[SLOTS][];

    /** A buffer of at least {@code n} floats; its contents are whatever the last user left. */
    public float[] get(int slot, int n) {
        float[] b = buffers[slot];
        if (b == null || b.length < n + PAD) {
            b = new float[n + PAD];
            buffers[slot] = b;
        }
        return b;
    }
}
