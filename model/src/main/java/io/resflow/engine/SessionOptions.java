package io.resflow.engine;

/**
 * @param recompute keep only each block's input in the forward pass and recompute the block during backward
 * @param gradientExchange the gradients will be read and replaced between backward and the update
 *     ({@link Session#gradientsTo}, {@link Session#gradientsFrom}: a data-parallel all-reduce); a device backend then
 *     prepares the copy back to the device
 * @param precision fp32, or bf16 with fp32 master weights (see {@link Precision})
 * @param adoptInit the caller gives up the initial parameters it opens the session with: a backend may keep their
 *     arrays as its own instead of copying them (one copy of the weights fewer at the peak; GPT-2 small: 0.5 GB)
 */
public record SessionOptions(boolean recompute, boolean gradientExchange, Precision precision, boolean adoptInit) {
    public static final SessionOptions DEFAULT = new SessionOptions(false);

    public SessionOptions {
        if (precision == null) {
            throw new IllegalArgumentException("precision must not be null");
        }
    }

    public SessionOptions(boolean recompute) {
        this(recompute, false);
    }

    public SessionOptions(boolean recompute, boolean gradientExchange) {
        this(recompute, gradientExchange, Precision.FP32);
    }

    public SessionOptions(boolean recompute, boolean gradientExchange, Precision precision) {
        this(recompute, gradientExchange, precision, false);
    }

    public SessionOptions withPrecision(Precision p) {
        return new SessionOptions(recompute, gradientExchange, p, adoptInit);
    }

    /** The same options with {@link #adoptInit}: the caller will not use the initial parameters again. */
    public SessionOptions adoptingInit() {
        return new SessionOptions(recompute, gradientExchange, precision, true);
    }
}
