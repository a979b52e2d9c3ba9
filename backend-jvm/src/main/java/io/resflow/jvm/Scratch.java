package io.resflow.jvm;

/**
 * Per-thread scratch buffers, one per slot, grown on first use to the largest size asked for and then reused, so a
 * kernel running the same shapes again allocates nothing. Only the owning thread touches them.
 */
public final class Scratch {
    public static final int GEMM_PACK = 0;
    public static final int ATT_KT = 1;
    public static final int ATT_VT = 2;
    public static final int ATT_ROW = 3;
    public static final int ATT_DK = 4;
    public static final int ATT_DV = 5;
    public static final int ATT_ROW2 = 6;
    public static final int LANES = 7;
    public static final int GEMM_TILE = 8;
    private static final int SLOTS = 9;

    private final float[][] buffers = new float[SLOTS][];

    /** A buffer of at least {@code n} floats; its contents are whatever the last user left. */
    public float[] get(int slot, int n) {
        float[] b = buffers[slot];
        if (b == null || b.length < n) {
            b = new float[n];
            buffers[slot] = b;
        }
        return b;
    }
}
