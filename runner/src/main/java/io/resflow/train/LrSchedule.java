package io.resflow.train;

/**
 * The learning rate at each step (counted from 1): a linear warm-up from lr/warmup to lr over the first
 * {@code warmup} steps, then either constant, or a cosine decay from lr to {@code minLr} at step {@code total}.
 */
public record LrSchedule(Kind kind, double lr, int warmup, double minLr, int total) {

    public enum Kind { CONSTANT, COSINE }

    public static LrSchedule constant(double lr) {
        return new LrSchedule(Kind.CONSTANT, lr, 0, lr, 0);
    }

    public double at(int step) {
        if (warmup > 0 && step <= warmup) {
            return lr * step / warmup;
        }
        if (kind == Kind.CONSTANT) {
            return lr;
        }
        int decay = total - warmup;
        if (decay <= 0) {
            return lr;
        }
        double progress = Math.min(1.0, (double) (step - warmup) / decay);
        return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
    }

    public String describe() {
        String w = warmup > 0 ? ", warm-up " + warmup + " steps" : "";
        return kind == Kind.CONSTANT ? String.format("constant lr %.3g%s", lr, w)
                : String.format("cosine lr %.3g -> %.3g%s", lr, minLr, w);
    }
}
