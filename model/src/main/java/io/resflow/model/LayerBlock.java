package io.resflow.model;

import java.util.function.Function;

/**
 * One of a layer's two residual blocks and the names of its parameters in {@link ParamLayout}: the attention block
 * (norm {@code ln1}, input projection {@code qkv}, output projection {@code attn_proj}, ReZero gate
 * {@code attn_alpha}) or the MLP block ({@code ln2}, {@code fc}, {@code mlp_proj}, {@code mlp_alpha}). Block k of the
 * forward order is layer k / 2, attention when k is even. Every place that walks a model's layers and looks up their
 * parameters (the engine, the KV-cache decoders, the tornado graphs, the layout itself) names them through this
 * record, so a parameter is spelled once.
 *
 * @param norm the norm's name (its tensors are {@code norm.w}, {@code norm.b}); absent under ReZero and "none"
 * @param in the input projection ({@code in.w}, {@code in.b}): qkv (QKV, C) or fc (FC, C)
 * @param out the output projection ({@code out.w}, {@code out.b}): attn_proj (C, Q) or mlp_proj (C, F)
 * @param gate the ReZero gate (1), present under ReZero only
 */
public record LayerBlock(int layer, boolean attention, String norm, String in, String out, String gate) {
    /** Layer {@code layer}'s attention block ({@code attention}) or MLP block. */
    public static LayerBlock of(int layer, boolean attention) {
        String p = "h." + layer + ".";
        return attention
                ? new LayerBlock(layer, true, p + "ln1", p + "qkv", p + "attn_proj", p + "attn_alpha")
                : new LayerBlock(layer, false, p + "ln2", p + "fc", p + "mlp_proj", p + "mlp_alpha");
    }

    /** Block k of the forward order: layer k / 2, attention when k is even. */
    public static LayerBlock at(int k) {
        return of(k / 2, k % 2 == 0);
    }

    /**
     * The block's parameters looked up once: {@code required} for the projections' weights (which every model has),
     * {@code optional} (null or a sentinel when absent) for the norm, the biases and the gate.
     */
    public <A> Slots<A> slots(Function<String, A> required, Function<String, A> optional) {
        return new Slots<>(optional.apply(norm + ".w"), optional.apply(norm + ".b"), required.apply(in + ".w"),
                optional.apply(in + ".b"), required.apply(out + ".w"), optional.apply(out + ".b"), optional.apply(gate));
    }

    /**
     * What a block reads, in a backend's currency: arrays for the engine and the decoders, device offsets for the
     * tornado graphs. w1/b1 is the input projection (qkv or fc), w2/b2 the output projection.
     */
    public record Slots<A>(A normW, A normB, A w1, A b1, A w2, A b2, A gate) {
        /** A final norm's slots (its weight required, its bias optional), the other fields null. */
        public static <A> Slots<A> norm(String name, Function<String, A> required, Function<String, A> optional) {
            return new Slots<>(required.apply(name + ".w"), optional.apply(name + ".b"), null, null, null, null, null);
        }
    }
}
