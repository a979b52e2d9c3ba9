package io.resflow.engine;

/**
 * @param recompute keep only each block's input in the forward pass and recompute the block during backward
 */
public record SessionOptions(boolean recompute) {
    public static final SessionOptions DEFAULT = new SessionOptions(false);
}
