package io.resflow.check;

import io.resflow.engine.Backend;
import io.resflow.engine.Decoder;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;

/**
 * The KV cache against the full-sequence forward on one backend: the first {@code prefill} tokens go in as a prompt,
 * the rest one decode step at a time, and at every position from prefill-1 on the decoder's logits are compared with
 * the full forward's logits of the same row (one {@link Session} of batch 1 over all the tokens).
 *
 * @param worstRelL2 the largest relative L2 error of a row over the positions compared
 * @param worstPosition the position where it was
 * @param worstMaxAbs the largest absolute difference of a logit over the positions compared
 * @param argmaxAgree whether the argmax of every compared row agrees
 * @param positions rows compared
 */
public record DecodeCheck(double worstRelL2, int worstPosition, double worstMaxAbs, boolean argmaxAgree, int positions) {

    /** Whether every compared row is within {@code relL2} of the full forward and picks the same argmax. */
    public boolean passes(double relL2) {
        return worstRelL2 <= relL2 && argmaxAgree;
    }

    /** On a test vector folder: its model, parameters and first row's tokens (at most max_seq_len of them). */
    public static DecodeCheck run(Backend backend, TestVectors tv, int prefill) {
        int n = Math.min(tv.config().maxSeqLen(), tv.seqLen());
        return run(backend, tv.config(), tv.params(), java.util.Arrays.copyOf(tv.inputs(), n), prefill);
    }

    public static DecodeCheck run(Backend backend, ModelConfig c, Params params, int[] tokens, int prefill) {
        return run(backend, c, params, tokens, prefill, io.resflow.engine.Precision.FP32);
    }

    /** As above with the session and the decoder both in {@code precision}. */
    public static DecodeCheck run(Backend backend, ModelConfig c, Params params, int[] tokens, int prefill,
            io.resflow.engine.Precision precision) {
        int n = tokens.length;
        if (prefill < 1 || prefill > n) {
            throw new IllegalArgumentException("prefill must be in [1, " + n + "], got " + prefill);
        }
        float[] full;
        try (Session s = backend.open(c, params, 1, n, SessionOptions.DEFAULT.withPrecision(precision))) {
            s.forward(tokens, null);
            full = s.logits().clone();
        }
        int V = c.vocabSize();
        double worst = 0;
        int worstAt = -1;
        double worstAbs = 0;
        boolean agree = true;
        try (Decoder d = backend.openDecoder(c, params, n, precision)) {
            int[] prompt = java.util.Arrays.copyOf(tokens, prefill);
            float[] logits = d.prefill(prompt);
            for (int t = prefill - 1; t < n; t++) {
                if (t >= prefill) {
                    logits = d.decode(tokens[t]);
                }
                if (d.position() != t + 1) {
                    throw new IllegalStateException("decoder position " + d.position() + ", expected " + (t + 1));
                }
                double num = 0;
                double den = 0;
                for (int v = 0; v < V; v++) {
                    double e = (double) logits[v] - full[t * V + v];
                    num += e * e;
                    den += (double) full[t * V + v] * full[t * V + v];
                    worstAbs = Math.max(worstAbs, Math.abs(e));
                }
                double rel = Math.sqrt(num / Math.max(den, 1e-30));
                if (rel > worst || worstAt < 0) {
                    worst = Math.max(worst, rel);
                    worstAt = t;
                }
                agree &= argmax(logits, 0, V) == argmax(full, t * V, V);
            }
        }
        return new DecodeCheck(worst, worstAt, worstAbs, agree, n - prefill + 1);
    }

    private static int argmax(float[] a, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (a[off + i] > a[off + best]) {
                best = i;
            }
        }
        return best;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "%d positions: worst rel_l2 %.3g at position %d, max |diff| %.3g, "
                + "argmax %s", positions, worstRelL2, worstPosition, worstMaxAbs, argmaxAgree ? "agrees" : "differs");
    }
}
