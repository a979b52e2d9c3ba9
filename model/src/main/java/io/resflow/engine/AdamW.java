package io.resflow.engine;

/** AdamW hyper-parameters (bias-corrected, decoupled weight decay on every parameter). */
public record AdamW(double beta1, double beta2, double eps, double weightDecay) {
    public static AdamW of(double weightDecay) {
        return new AdamW(0.9, 0.999, 1e-8, weightDecay);
    }
}
