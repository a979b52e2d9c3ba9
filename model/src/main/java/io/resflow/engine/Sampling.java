package io.resflow.engine;

import io.resflow.model.BadInputException;

/**
 * How the next token is chosen from the logits, as transformers' generate does it: temperature 0 is greedy (argmax,
 * the lowest id on ties); otherwise the logits are divided by the temperature, cut to the top_k largest (0: no cut)
 * and then to the smallest set whose probability reaches top_p (1: no cut), and a token is drawn from what is left
 * with a generator seeded by {@code seed}, so a seed gives the same tokens every run.
 */
public record Sampling(double temperature, int topK, double topP, long seed) {
    public static final Sampling GREEDY = new Sampling(0, 0, 1, 0);

    public Sampling {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new BadInputException("--temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new BadInputException("--top-k must be >= 0 (0: no cut), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new BadInputException("--top-p must be in (0, 1], got " + topP);
        }
    }

    public boolean greedy() {
        return temperature == 0;
    }
}
