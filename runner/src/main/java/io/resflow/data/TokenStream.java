package io.resflow.data;

import io.resflow.model.BadInputException;
import java.util.function.LongUnaryOperator;

/**
 * A sequence of token ids read in order, llm.c style: a batch takes B*T+1 consecutive tokens from the position (the
 * inputs are the first B*T, the targets the same shifted by one), then the position moves on by B*T; when fewer than
 * B*T+1 tokens remain it wraps to 0. Every id has been checked against the vocabulary when the stream was made.
 */
public final class TokenStream implements DataSource {
    private final String name;
    private final long length;
    private final LongUnaryOperator token;
    private final int batch;
    private final int seqLen;
    private final String sha256;
    private final String kind;
    private long position;

    /**
     * @param name the source in messages, e.g. {@code token file x.bin}
     * @param token the id at an index in [0, length)
     */
    TokenStream(String name, long length, LongUnaryOperator token, int batch, int seqLen) {
        this(name, null, length, token, batch, seqLen, null);
    }

    /**
     * @param name the file (or config field) the tokens come from, as messages start with it
     * @param kind what it is, e.g. {@code token file} (for {@link #describe()})
     * @param sha256 the hash of the file the tokens come from (null: not a file)
     */
    TokenStream(String name, String kind, long length, LongUnaryOperator token, int batch, int seqLen, String sha256) {
        long need = (long) batch * seqLen + 1;
        if (length < need) {
            throw new BadInputException(name + ": has " + length + " tokens, but one batch needs batch*seq_len+1 = "
                    + need);
        }
        this.name = name;
        this.length = length;
        this.token = token;
        this.batch = batch;
        this.seqLen = seqLen;
        this.sha256 = sha256;
        this.kind = kind;
    }

    @Override
    public String sha256() {
        return sha256;
    }

    @Override
    public Batch next() {
        return rows(0, batch);
    }

    /**
     * Rows {@code first .. first+rows-1} of the next batch (a data-parallel rank's share), reading only their tokens;
     * the position advances by the whole batch, as {@link #next()} does.
     */
    Batch rows(int first, int rows) {
        int n = batch * seqLen;
        if (position + n + 1 > length) {
            position = 0;
        }
        int m = rows * seqLen;
        int[] in = new int[m];
        int[] tg = new int[m];
        long start = position + (long) first * seqLen;
        int prev = (int) token.applyAsLong(start);
        for (int i = 0; i < m; i++) {
            int next = (int) token.applyAsLong(start + i + 1);
            in[i] = prev;
            tg[i] = next;
            prev = next;
        }
        position += n;
        return new Batch(in, tg);
    }

    @Override
    public long position() {
        return position;
    }

    @Override
    public void seek(long p) {
        if (p < 0 || p >= length) {
            throw new BadInputException(name + ": data position " + p + " is outside the stream's " + length + " tokens");
        }
        position = p;
    }

    @Override
    public String describe() {
        return String.format("%s%s: %,d tokens, %,d per batch", kind == null ? "" : kind + " ", name, length,
                (long) batch * seqLen);
    }
}
