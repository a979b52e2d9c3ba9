package io.resflow.model;

import java.util.ArrayList;
import java.util.List;

/**
 * Size limits, checked in {@code long} before anything is allocated. A tensor is one Java array, so it holds at most
 * {@link #MAX_TENSOR_VALUES} values; a message names the field that is too large (the largest of those the tensor's
 * shape depends on), the shape in field names and the limit.
 */
public final class Sizes {
    /** The most values one tensor (one Java array) can hold. */
    public static final long MAX_TENSOR_VALUES = Integer.MAX_VALUE - 8;

    private Sizes() {
    }

    /** A field and its value; {@code label} is how a message names it (e.g. {@code field 'batch'}, {@code --batch}). */
    public record Dim(String label, String name, long value) {
        public static Dim field(String name, long value) {
            return new Dim("field '" + name + "'", "'" + name + "'", value);
        }
    }

    /**
     * Throws when the product of {@code dims} exceeds {@link #MAX_TENSOR_VALUES}: "field 'd_model' (65536) is too
     * large: tensor h.0.qkv.w ['n_head' + 2 'n_kv_head') x 'head_dim', 'd_model'] ...".
     *
     * @param what the tensor, e.g. {@code tensor wte}
     * @param shape the shape in field names, e.g. {@code ['vocab_size', 'd_model']}
     * @param values the shape's values
     * @param dims the fields the shape depends on (the largest is named as too large)
     */
    public static void check(String what, String shape, long[] values, Dim... dims) {
        long n = 1;
        boolean over = false;
        for (long v : values) {
            if (v > 0 && n > MAX_TENSOR_VALUES / v) {
                over = true;
                break;
            }
            n *= v;
        }
        if (!over && n <= MAX_TENSOR_VALUES) {
            return;
        }
        Dim culprit = dims[0];
        for (Dim d : dims) {
            if (d.value() > culprit.value()) {
                culprit = d;
            }
        }
        List<String> vs = new ArrayList<>();
        java.math.BigInteger total = java.math.BigInteger.ONE;
        for (long v : values) {
            vs.add(Long.toString(v));
            total = total.multiply(java.math.BigInteger.valueOf(v));
        }
        throw new BadInputException(culprit.label() + " (" + culprit.value() + ") is too large: " + what + " " + shape
                + " = [" + String.join(", ", vs) + "] would hold " + String.format("%,d", total) + " values; the limit is "
                + String.format("%,d", MAX_TENSOR_VALUES) + " values per tensor");
    }

    /**
     * The buffers every backend holds per token, for {@code batch} sequences of {@code seqLen} positions of model
     * {@code c}: the residual stream and the other activations, the logits.
     *
     * @param batch how the caller names the batch size, e.g. {@code Dim("field 'batch'", "batch", 4)}
     */
    public static void checkBatch(ModelConfig c, Dim batch, Dim seqLen) {
        long n = batch.value() * seqLen.value(); // both are ints: no overflow
        String bt = batch.name() + " x " + seqLen.name();
        check("the tokens of a batch", "[" + bt + "]", new long[] {n}, batch, seqLen);
        Dim[] bs = {batch, seqLen};
        check("the residual stream", "[" + bt + ", 'd_model']", new long[] {n, c.dModel()}, bs);
        check("the logits", "[" + bt + ", 'vocab_size']", new long[] {n, c.vocabSize()}, bs);
        check("the q|k|v activations", "[" + bt + ", q|k|v width]", new long[] {n, c.qkvDim()}, bs);
        check("the MLP activations", "[" + bt + ", MLP width]", new long[] {n, c.fcDim()}, bs);
    }
}
