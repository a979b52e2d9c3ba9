package io.resflow.engine;

import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.model.ParamLayout;
import io.resflow.model.Params;

/**
 * What every KV-cache {@link Decoder} shares, whatever runs it: the model, the cache capacity (checked against
 * max_seq_len), the position, the description, and the checks before any work (the prompt fits, every token is in
 * the vocabulary, the cache is not full). A backend implements {@link #forward}: n tokens at positions at .. at+n-1,
 * their keys and values into the cache, the logits of the last one.
 */
public abstract class KvCacheDecoder implements Decoder {
    protected final ModelConfig c;
    /** Positions the cache holds. */
    protected final int cap;
    private final String describe;
    private final int[] one = new int[1];
    private int pos;

    /** @param capacity positions the cache holds, at most the model's max_seq_len */
    protected KvCacheDecoder(ModelConfig config, Params params, int capacity, String describe) {
        if (capacity <= 0 || capacity > config.maxSeqLen()) {
            throw new BadInputException("decoder capacity must be in [1, max_seq_len = " + config.maxSeqLen()
                    + "], got " + capacity);
        }
        params.checkAgainst(ParamLayout.of(config), "parameters");
        this.c = config;
        this.cap = capacity;
        this.describe = describe;
    }

    /**
     * Runs tokens[0 .. n) at positions at .. at + n - 1 (checked: in the vocabulary, within the capacity), adding
     * their keys and values to the cache; returns the logits of the last (the decoder's own buffer).
     */
    protected abstract float[] forward(int[] tokens, int n, int at);

    @Override
    public final ModelConfig config() {
        return c;
    }

    @Override
    public final int capacity() {
        return cap;
    }

    @Override
    public final int position() {
        return pos;
    }

    @Override
    public final String describe() {
        return describe;
    }

    @Override
    public final float[] prefill(int[] prompt) {
        Decoder.requirePromptFits(prompt, cap);
        for (int t = 0; t < prompt.length; t++) {
            checkToken(prompt[t], t);
        }
        pos = 0;
        float[] logits = forward(prompt, prompt.length, 0);
        pos = prompt.length;
        return logits;
    }

    @Override
    public final float[] decode(int token) {
        if (pos >= cap) {
            throw new IllegalStateException("the KV cache is full (" + cap + " positions)");
        }
        checkToken(token, pos);
        one[0] = token;
        float[] logits = forward(one, 1, pos);
        pos++;
        return logits;
    }

    private void checkToken(int token, int at) {
        if (token < 0 || token >= c.vocabSize()) {
            throw new BadInputException("token at position " + at + " is " + token + ", outside the vocabulary [0, "
                    + c.vocabSize() + ")");
        }
    }
}
