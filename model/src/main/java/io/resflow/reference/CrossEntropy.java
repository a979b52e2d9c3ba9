package io.resflow.reference;

/**
 * Softmax cross-entropy, mean over the N positions: loss = mean_n (logsumexp(logits[n]) - logits[n, target[n]]).
 * dlogits[n] = (softmax(logits[n]) - onehot(target[n])) / N.
 */
public final class CrossEntropy {
    private CrossEntropy() {
    }

    // logits (N,V), targets (N) -> probs (N,V), losses (N); returns the mean loss
    public static double forward(float[] losses, float[] probs, float[] logits, int[] targets, int N, int V) {
        double total = 0;
        for (int n = 0; n < N; n++) {
            int row = n * V;
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < V; v++) {
                max = Math.max(max, logits[row + v]);
            }
            double sum = 0;
            for (int v = 0; v < V; v++) {
                sum += Math.exp(logits[row + v] - max);
            }
            double logSum = Math.log(sum) + max;
            for (int v = 0; v < V; v++) {
                probs[row + v] = (float) Math.exp(logits[row + v] - logSum);
            }
            double loss = logSum - logits[row + targets[n]];
            losses[n] = (float) loss;
            total += loss;
        }
        return total / N;
    }

    // dlogits (N,V) +=
    public static void backward(float[] dlogits, float[] probs, int[] targets, int N, int V) {
        double inv = 1.0 / N;
        for (int n = 0; n < N; n++) {
            int row = n * V;
            for (int v = 0; v < V; v++) {
                double indicator = v == targets[n] ? 1.0 : 0.0;
                dlogits[row + v] += (float) ((probs[row + v] - indicator) * inv);
            }
        }
    }
}
