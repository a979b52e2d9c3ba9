package io.resflow.tornado.kernels;

/** Fixed indices into the session's {@code consts} FloatArray (read by kernels, written once by the host). */
public final class Consts {
    /** Norm epsilon. */
    public static final int NORM_EPS = 0;
    /** Weight of the skip path in the residual join (1, 0 for none, (2L)^(1/4) for deepnorm). */
    public static final int SKIP_ALPHA = 1;
    /** 1 / sqrt(head_dim). */
    public static final int ATTN_SCALE = 2;
    /** 1 / (B*T), the cross-entropy mean. */
    public static final int INV_N = 3;
    /** First RoPE table entry: cos (T, hd/2), then sin (T, hd/2). */
    public static final int ROPE = 8;

    private Consts() {
    }
}
