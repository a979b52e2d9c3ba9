package io.resflow.data;

/**
 * Where a run's batches come from. A source is a deterministic function of its position, so a run that saves
 * {@link #position()} with a checkpoint and {@link #seek}s back to it on resume sees exactly the batches an
 * uninterrupted run would have seen.
 */
public interface DataSource {

    /** The next batch; advances the position. */
    Batch next();

    /** The position of the batch {@link #next()} returns next (token offset, or batch index for synthetic data). */
    long position();

    /** Moves to a position returned earlier by {@link #position()}. */
    void seek(long position);

    /** SHA-256 of the file the tokens come from (64 hex digits), or null for data that is not a file. */
    default String sha256() {
        return null;
    }

    /** One line for the run header, e.g. {@code token file data/train.bin: 1,000,000 tokens}. */
    String describe();
}
