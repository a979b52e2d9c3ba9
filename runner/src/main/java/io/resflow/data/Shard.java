package io.resflow.data;

/**
 * A data-parallel rank's share of every global batch: the source is opened with the global batch (N*B sequences),
 * and rank r takes its sequences r*B .. r*B+B-1, so N ranks with batch B see together exactly the tokens one process
 * with batch N*B sees, in the same rows. The position is the global one (the same on every rank, saved in
 * checkpoints as it is in one process).
 */
public final class Shard implements DataSource {
    private final DataSource global;
    private final int first;
    private final int rows;
    private final int seqLen;

    public Shard(DataSource global, int rank, int batch, int seqLen) {
        this.global = global;
        this.first = rank * batch;
        this.rows = batch;
        this.seqLen = seqLen;
    }

    @Override
    public Batch next() {
        if (global instanceof TokenStream ts) {
            return ts.rows(first, rows);
        }
        Batch b = global.next();
        int from = first * seqLen;
        int n = rows * seqLen;
        return new Batch(java.util.Arrays.copyOfRange(b.inputs(), from, from + n),
                java.util.Arrays.copyOfRange(b.targets(), from, from + n));
    }

    @Override
    public long position() {
        return global.position();
    }

    @Override
    public void seek(long position) {
        global.seek(position);
    }

    @Override
    public String sha256() {
        return global.sha256();
    }

    @Override
    public String describe() {
        return global.describe() + " (rows " + first + ".." + (first + rows - 1) + " of each on this rank)";
    }
}
