package io.resflow.data;

import java.util.SplittableRandom;

/**
 * A seeded synthetic batch: a random token stream of B*(T+1) ids; inputs are each row's first T tokens, targets the
 * next T (explicit next-token targets, as in the test vectors).
 */
public record SyntheticBatch(int[] inputs, int[] targets) {

    public static SyntheticBatch of(long seed, int B, int T, int vocab) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] in = new int[B * T];
        int[] tg = new int[B * T];
        for (int b = 0; b < B; b++) {
            int prev = r.nextInt(vocab);
            for (int t = 0; t < T; t++) {
                int next = r.nextInt(vocab);
                in[b * T + t] = prev;
                tg[b * T + t] = next;
                prev = next;
            }
        }
        return new SyntheticBatch(in, tg);
    }
}
