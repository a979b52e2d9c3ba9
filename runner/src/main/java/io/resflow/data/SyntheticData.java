package io.resflow.data;

import io.resflow.model.BadInputException;

/**
 * Seeded synthetic batches: batch i (counted from 0) is {@link SyntheticBatch#of} with seed {@code seed + i mod
 * batches}, so with {@code batches = 1} every step trains on the same batch (a memorisation run whose loss must
 * fall). The position is the batch counter.
 */
public final class SyntheticData implements DataSource {
    private final long seed;
    private final int batches;
    private final int batch;
    private final int seqLen;
    private final int vocab;
    private long position;

    public SyntheticData(long seed, int batches, int batch, int seqLen, int vocab) {
        this.seed = seed;
        this.batches = batches;
        this.batch = batch;
        this.seqLen = seqLen;
        this.vocab = vocab;
    }

    @Override
    public Batch next() {
        SyntheticBatch b = SyntheticBatch.of(seed + position % batches, batch, seqLen, vocab);
        position++;
        return new Batch(b.inputs(), b.targets());
    }

    @Override
    public long position() {
        return position;
    }

    @Override
    public void seek(long p) {
        if (p < 0) {
            throw new BadInputException("synthetic data: position " + p + " is negative");
        }
        position = p;
    }

    @Override
    public String describe() {
        return "synthetic: " + batches + " seeded batch" + (batches == 1 ? "" : "es") + " (seed " + seed + ")";
    }
}
