package io.resflow.check;

import io.resflow.model.ModelConfig;
import io.resflow.reference.Bf16;
import java.util.Locale;

/**
 * How far a bf16 run ({@link io.resflow.engine.Precision}) may be from an fp32 oracle: the eps of the rule of
 * {@link Comparison} (rel_l2 <= eps, max_rel <= 10 eps) as a formula of the config's depth L alone, never tuned
 * per folder; u = 2^-8 is bf16's unit roundoff.
 * <pre>
 *   forward  (logits, loss, the losses after each step)   eps = u sqrt(2 + 2 log2(1 + L))
 *   backward (every gradient, every update)                eps = u sqrt(16 + 1.5 L)
 * </pre>
 * Where the terms come from. A rounding point moves each element by a relative error of at most u (round to nearest
 * even), and errors of independent points add in quadrature. The logits are two points away from the residual stream
 * (the final norm's output, the logits themselves): the 2. The stream is fp32 and collects every block's branch; each
 * branch carries the error of its own few points, and since the stream is the sum of L branches its relative error
 * is about one branch's rather than L of them: depth enters only through how unequal the branches are, taken as
 * logarithmic. Measured: logits at 1.1 u on 2, 3 and 104 layers alike. A gradient is a reduction over the batch rows
 * of a backward signal that has crossed the head and every block above (each backward block rounds 4 to 5 values,
 * {@link io.resflow.engine.Precision}), and such reductions cancel (a norm's weight gradient sums terms of both
 * signs), so its relative error grows with the number of blocks crossed: linear in L under the root. The constants
 * (2, 2; 16, 1.5) put the largest error measured on the five folders of testvectors/ at no more than 0.55 of the
 * budget (0.50 forward, 0.55 backward; README) and were then fixed.
 *
 * @param layers the model's n_layer
 */
public record Bf16Budget(int layers) {

    public static Bf16Budget of(ModelConfig c) {
        return new Bf16Budget(c.nLayer());
    }

    public double forwardEps() {
        return Bf16.UNIT_ROUNDOFF * Math.sqrt(2 + 2 * Math.log(1 + layers) / Math.log(2));
    }

    public double backwardEps() {
        return Math.min(0.5, Bf16.UNIT_ROUNDOFF * Math.sqrt(16 + 1.5 * layers));
    }

    /**
     * The eps two bf16 implementations' gradients and updates are held to against each other (a backend against the
     * bf16 reference): half the backward budget. Not the float32 budget: a value the two compute 1e-7 apart sits on
     * different sides of a bf16 rounding boundary in about 1e-7 / 2^-7 of the elements, and each later rounding point
     * of the backward widens the gap (a value moved by d flips with odds d / 2^-7); after the dozen points of a
     * two-layer backward the jvm and the reference parted by 0.5e-3 to 3e-3 (5e-3 at 104 layers) while their logits
     * agreed to the bit.
     */
    public double pairGradEps() {
        return backwardEps() / 2;
    }

    /** One line for reports: the formula and its two values. */
    public String describe() {
        return String.format(Locale.ROOT, "bf16 budget (u = 2^-8, L = %d): forward eps = u sqrt(2 + 2 log2(1+L)) = "
                + "%.2e (logits, losses), backward eps = u sqrt(16 + 1.5 L) = %.2e (gradients, updates)", layers,
                forwardEps(), backwardEps());
    }
}
