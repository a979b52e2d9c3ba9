package io.resflow.engine;

/**
 * @param recompute keep only each block's input in the forward pass and recompute the block during backward
 * @param gradientExchange the gradients will be read and replaced between backward and the update
 *     ({@link Session#gradientsTo}, {@link Session#gradientsFrom}: a data-parallel all-reduce); a device backend then
 *     prepares the copy back to the device
 */
public record SessionOptions(boolean recompute, boolean gradientExchange) {
    public static final SessionOptions DEFAULT = new SessionOptions(false);

    public SessionOptions(boolean recompute) {
        this(recompute, false);
    }
}
