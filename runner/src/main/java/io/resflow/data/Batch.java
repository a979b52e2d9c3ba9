package io.resflow.data;

/** One training batch: B*T input token ids and their B*T next-token targets. */
public record Batch(int[] inputs, int[] targets) {
}
