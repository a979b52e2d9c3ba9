package io.resflow.engine;

import io.resflow.model.BadInputException;
import io.resflow.reference.Bf16;
import java.util.Locale;

/**
 * What a session computes in: {@code fp32}, or {@code bf16} the way PyTorch's {@code torch.autocast(dtype=bfloat16)}
 * does, with fp32 master weights, optimizer state, norms, softmax, loss and update. The bf16 rounding points (round
 * to nearest even, {@link Bf16}) are fixed by {@link Engine} and {@link KvDecoder} so that every backend rounds the
 * same values; the backend's own part is to use bf16 copies of the matmul weights and biases (see {@link Ops}).
 *
 * <p>Forward, rounded to bf16: every matmul operand (the normed input or the previous op's output, the weight, the
 * bias) and every matmul output (q|k|v, the attention projection, fc, the MLP projection, the logits); q and k again
 * after RoPE; the attention output; the activation's output (GELU, SwiGLU). Kept fp32: the embedding sum, the
 * residual stream and its sums, every norm, the attention scores, probabilities and their softmax (resflow does not
 * round the probabilities before P V, which PyTorch's flash kernel does, so that a blocked online softmax and the
 * reference round the same values), the cross-entropy.
 *
 * <p>Backward, rounded to bf16: the gradient arriving at every bf16 tensor of the forward (d logits, d branch output,
 * d attention output, d q|k|v after the attention's backward and again after RoPE's, d fc after the activation's
 * backward) and every matmul's input gradient. Kept fp32: weight and bias gradients (autocast rounds them once before
 * adding them into the fp32 {@code .grad}; resflow keeps the fp32 product), the norms' gradients, the residual stream's.
 * Products are accumulated in fp32 by the fp32 backends and in double by the reference.
 */
public enum Precision {
    FP32("fp32"),
    BF16("bf16");

    private final String id;

    Precision(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    /** x as this precision stores it: itself in fp32, rounded to nearest even bf16 in bf16. */
    public float round(float x) {
        return this == BF16 ? Bf16.round(x) : x;
    }

    /** {@code fp32} or {@code bf16} (any case); anything else is bad input naming {@code where}. */
    public static Precision parse(String s, String where) {
        String t = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        for (Precision p : values()) {
            if (p.id.equals(t) || (p == BF16 && t.equals("bfloat16")) || (p == FP32 && t.equals("float32"))) {
                return p;
            }
        }
        throw new BadInputException(where + ": unknown dtype '" + s + "'; expected fp32 or bf16");
    }

    @Override
    public String toString() {
        return id;
    }
}
