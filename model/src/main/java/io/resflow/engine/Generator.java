package io.resflow.engine;

import io.resflow.model.BadInputException;
import java.util.Arrays;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Autoregressive generation on a {@link Decoder}: the prompt is prefilled, then one token is chosen from the logits
 * ({@link Sampling}) and decoded at a time. It stops after {@code maxNew} tokens, at an end-of-sequence token (kept
 * in the output, as transformers does), or when the ids fill the decoder's capacity (max_seq_len).
 */
public final class Generator {
    private Generator() {
    }

    /**
     * @param ids the prompt ids followed by the generated ids
     * @param stop why it stopped: "max_new_tokens", "eos" or "max_seq_len"
     * @param prefillNanos the prompt's prefill and the choice of the first token (time to first token)
     * @param decodeNanos the decode steps after the first token, each with its choice of the next token
     */
    public record Result(int[] ids, int promptLength, String stop, long prefillNanos, long decodeNanos) {
        public int generated() {
            return ids.length - promptLength;
        }

        /** Generated tokens per second after the first (the decode steps), NaN with fewer than two. */
        public double decodeTokensPerSecond() {
            return generated() < 2 ? Double.NaN : (generated() - 1) / (decodeNanos / 1e9);
        }
    }

    public static Result generate(Decoder d, int[] prompt, int maxNew, Sampling s, Set<Integer> eos,
            IntConsumer onToken) {
        if (maxNew < 0) {
            throw new BadInputException("--max-new-tokens must be >= 0, got " + maxNew);
        }
        int cap = d.capacity();
        if (prompt.length > cap) {
            throw new BadInputException("prompt: " + prompt.length + " tokens are more than the model's max_seq_len "
                    + cap);
        }
        int[] ids = Arrays.copyOf(prompt, Math.min(cap, prompt.length + maxNew));
        int n = prompt.length;
        SplittableRandom rnd = new SplittableRandom(s.seed());
        int V = d.config().vocabSize();
        long t0 = System.nanoTime();
        if (maxNew == 0 || n >= cap) {
            return new Result(ids, prompt.length, n >= cap && maxNew > 0 ? "max_seq_len" : "max_new_tokens", 0, 0);
        }
        float[] logits = d.prefill(prompt);
        long prefill = 0;
        String stop = "max_new_tokens";
        while (true) {
            int next = choose(logits, V, s, rnd);
            ids[n++] = next;
            if (onToken != null) {
                onToken.accept(next);
            }
            if (prefill == 0) {
                prefill = System.nanoTime() - t0;
                t0 = System.nanoTime();
            }
            if (eos.contains(next)) {
                stop = "eos";
                break;
            }
            if (n - prompt.length >= maxNew) {
                break;
            }
            if (n >= cap) {
                stop = "max_seq_len";
                break;
            }
            logits = d.decode(next);
        }
        long decode = System.nanoTime() - t0;
        return new Result(Arrays.copyOf(ids, n), prompt.length, stop, prefill, decode);
    }

    /** The next token from one row of logits (V). */
    public static int choose(float[] logits, int V, Sampling s, SplittableRandom rnd) {
        if (s.greedy()) {
            int best = 0;
            for (int v = 1; v < V; v++) {
                if (logits[v] > logits[best]) {
                    best = v;
                }
            }
            return best;
        }
        // ids by descending logit (ties: lower id first); the probabilities in that order
        Integer[] boxed = new Integer[V];
        for (int v = 0; v < V; v++) {
            boxed[v] = v;
        }
        Arrays.sort(boxed, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        int keep = V;
        if (s.topK() > 0 && s.topK() < V) {
            keep = s.topK();
            float kth = logits[boxed[keep - 1]];
            while (keep < V && logits[boxed[keep]] == kth) {
                keep++; // transformers keeps every token tied with the k-th
            }
        }
        double max = logits[boxed[0]] / s.temperature();
        double[] p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            p[i] = Math.exp(logits[boxed[i]] / s.temperature() - max);
            sum += p[i];
        }
        if (s.topP() < 1) {
            double cum = 0;
            int cut = keep;
            for (int i = 0; i < keep; i++) {
                cum += p[i] / sum;
                if (cum >= s.topP()) {
                    cut = i + 1;
                    break;
                }
            }
            keep = cut;
            sum = 0;
            for (int i = 0; i < keep; i++) {
                sum += p[i];
            }
        }
        double u = rnd.nextDouble() * sum;
        double acc = 0;
        for (int i = 0; i < keep; i++) {
            acc += p[i];
            if (u < acc) {
                return boxed[i];
            }
        }
        return boxed[keep - 1];
    }
}
