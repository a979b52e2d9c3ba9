package io.resflow.model;

/**
 * How each block (attention, MLP) joins the residual stream h. F is the block, norm its norm.
 * <pre>
 * pre      h = h + F(norm(h))                 (GPT-2, Llama; final norm at the end)
 * post     h = norm(h + F(h))                 (original Transformer)
 * deepnorm h = norm(alpha * h + F(h))         alpha = (2N)^(1/4); v, o and MLP weights init scaled by beta = (8N)^(-1/4)
 * rezero   h = h + a * F(h)                   learnable scalar a per block, initialised to 0, no norm in the blocks
 * none     h = F(norm(h))                     no skip path (the ablation)
 * </pre>
 * Every scheme keeps the final norm before the output head.
 */
public enum Residual {
    PRE, POST, DEEPNORM, REZERO, NONE;

    /** Whether the block's input is normalised before F. */
    public boolean normBeforeBlock() {
        return this == PRE || this == NONE;
    }

    /** Whether the sum is normalised after the skip. */
    public boolean normAfterSum() {
        return this == POST || this == DEEPNORM;
    }

    /** Whether the block has any norm parameters. */
    public boolean hasBlockNorms() {
        return this != REZERO;
    }

    public boolean hasSkip() {
        return this != NONE;
    }

    /** The skip path's weight alpha in h = alpha h + F(..): 0 without a skip path, (2N)^(1/4) for DeepNorm, else 1. */
    public float skipAlpha(int nLayer) {
        return switch (this) {
            case NONE -> 0f;
            case DEEPNORM -> (float) Math.pow(2.0 * nLayer, 0.25);
            default -> 1f;
        };
    }

    public String id() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
