package io.resflow.engine;

import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;

/**
 * Autoregressive inference of one sequence (batch 1) with a KV cache: the keys and values of every position seen so
 * far stay in the decoder, so each new token costs one position's work and the prefix is never recomputed. The cache
 * holds {@link #capacity()} positions (the model's max_seq_len unless asked for fewer).
 *
 * <p>Typical use: {@code logits = prefill(prompt); while (...) logits = decode(next(logits));}. The logits returned
 * (V floats, the last position's) are the decoder's own buffer: read them before the next call, never modify them.
 * For the same tokens they equal the full-sequence forward's logits at that position within the backend's tolerance.
 */
public interface Decoder extends AutoCloseable {

    ModelConfig config();

    /** Positions the cache holds. */
    int capacity();

    /** Positions filled so far (the position the next token gets). */
    int position();

    /** Empties the cache and runs {@code prompt} at positions 0 .. n-1; returns the logits of its last position. */
    float[] prefill(int[] prompt);

    /** Runs {@code token} at position {@link #position()} and returns its logits. */
    float[] decode(int token);

    /** One line for reports (backend, threads, device). */
    String describe();

    @Override
    void close();

    /** What every {@link #prefill} checks first: at least one token, and no more than the cache holds. */
    static void requirePromptFits(int[] prompt, int capacity) {
        if (prompt.length == 0) {
            throw new BadInputException("prompt: at least one token is needed");
        }
        if (prompt.length > capacity) {
            throw new BadInputException("prompt: " + prompt.length + " tokens do not fit the "
                    + capacity + " positions of the cache (max_seq_len)");
        }
    }
}
