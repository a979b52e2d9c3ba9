package io.resflow.engine;

import io.resflow.model.LayerBlock;
import io.resflow.model.LayerBlock.Slots;
import io.resflow.model.ModelConfig;
import io.resflow.model.Norm;
import io.resflow.model.Params;
import io.resflow.model.Residual;

/**
 * A {@link Decoder} written once over {@link Ops} (like {@link Engine}, whose forward it mirrors block for block), so
 * the reference and the jvm backend decode with the same schedule and their own kernels.
 *
 * <p>State: per layer a key and a value cache (capacity, n_kv_head * head_dim), filled by
 * {@link Ops#attentionDecode}. A call runs T new tokens (the prompt, or one token) at positions pos .. pos+T-1
 * through every block on (T, .) activations, then the final norm and the output head on the last row only:
 * <pre>
 * x (T,C) = embed(tokens, positions pos..)                 Ops.embeddingForwardAt
 * per sub-block: as Engine.forwardBlock with N = T, attention = qkv matmul, RoPE at positions pos.. (ropeForwardAt),
 *                k, v into the cache and causal attention over cache rows 0 .. pos+t (attentionDecode), projection
 * logits (V) = head(norm(x[T-1]))
 * </pre>
 * Buffers are sized for the capacity once, so a decode step allocates nothing.
 */
public final class KvDecoder extends KvCacheDecoder {
    private final Ops ops;
    private final boolean bf16; // the rounding points of Precision.BF16, as Engine's forward
    private final float[] ub;
    private final int C;
    private final int V;
    private final float skipAlpha;
    private final float[] wte;
    private final float[] wpe;
    private final float[] head;
    private final float[][] kCache;
    private final float[][] vCache;
    private float[] x;
    private float[] y;
    private final float[] nb;
    private final float[] mean;
    private final float[] rstd;
    private final float[] qkv;
    private final float[] att;
    private final float[] f;
    private final float[] sum;
    private final float[] fc;
    private final float[] act;
    private final float[] last;
    private final float[] lnf;
    private final float[] logits;
    private final Slots<float[]>[] slots;
    private final Slots<float[]> lnfSlots;

    /** @param capacity positions the cache holds, at most the model's max_seq_len */
    public KvDecoder(ModelConfig config, Params params, int capacity, Ops ops, String describe) {
        super(config, params, capacity, describe);
        this.ops = ops;
        this.bf16 = ops.precision() == Precision.BF16;
        ops.parametersChanged(params);
        this.C = config.dModel();
        this.V = config.vocabSize();
        this.skipAlpha = config.residual().skipAlpha(config.nLayer());
        this.wte = params.data("wte");
        this.wpe = params.dataOrNull("wpe");
        this.head = config.tieEmbeddings() ? wte : params.data("lm_head");
        int kvw = config.nKvHead() * config.headDim();
        kCache = new float[config.nLayer()][cap * kvw];
        vCache = new float[config.nLayer()][cap * kvw];
        x = new float[cap * C];
        y = new float[cap * C];
        nb = new float[cap * C];
        mean = new float[cap];
        rstd = new float[cap];
        qkv = new float[cap * config.qkvDim()];
        att = new float[cap * config.qDim()];
        f = new float[cap * C];
        sum = new float[cap * C];
        fc = new float[cap * config.fcDim()];
        act = new float[cap * config.dFf()];
        ub = bf16 && !config.residual().normBeforeBlock() ? new float[cap * C] : null;
        last = new float[C];
        lnf = new float[C];
        logits = new float[V];
        slots = new Slots[2 * config.nLayer()];
        for (int k = 0; k < slots.length; k++) {
            slots[k] = LayerBlock.at(k).slots(params::data, params::dataOrNull);
        }
        lnfSlots = Slots.norm("lnf", params::data, params::dataOrNull);
        // bf16: every matmul weight converted once, here
        for (Slots<float[]> w : slots) {
            ops.prepareWeight(w.w1());
            ops.prepareWeight(w.w2());
        }
        ops.prepareWeight(head);
    }

    /** The T tokens at positions pos .. pos+T-1 through every block, then the head on the last row. */
    @Override
    protected float[] forward(int[] tokens, int T, int pos) {
        ops.embeddingForwardAt(x, tokens, wte, wpe, T, pos, C);
        for (int k = 0; k < 2 * c.nLayer(); k++) {
            block(k, T, pos);
            float[] t = x;
            x = y;
            y = t;
        }
        System.arraycopy(x, (T - 1) * C, last, 0, C);
        norm(lnf, last, lnfSlots, 1);
        round(lnf, C);
        ops.matmulForward(logits, lnf, head, null, 1, C, V);
        round(logits, V);
        return logits;
    }

    private void round(float[] a, int n) {
        if (bf16) {
            ops.roundBf16(a, n);
        }
    }

    private void norm(float[] out, float[] in, Slots<float[]> w, int rows) {
        float eps = (float) c.normEps();
        if (c.norm() == Norm.LAYERNORM) {
            ops.layerNormForward(out, mean, rstd, in, w.normW(), w.normB(), rows, C, eps);
        } else {
            ops.rmsNormForward(out, rstd, in, w.normW(), rows, C, eps);
        }
    }

    /** Sub-block k (attention when even) from x into y, as Engine.forwardBlock. */
    private void block(int k, int T, int pos) {
        Slots<float[]> w = slots[k];
        float[] u = x;
        if (c.residual().normBeforeBlock()) {
            norm(nb, x, w, T);
            round(nb, T * C);
            u = nb;
        } else if (bf16) {
            System.arraycopy(x, 0, ub, 0, T * C);
            ops.roundBf16(ub, T * C);
            u = ub;
        }
        if (k % 2 == 0) {
            ops.matmulForward(qkv, u, w.w1(), w.b1(), T, C, c.qkvDim());
            round(qkv, T * c.qkvDim());
            if (!c.learnedPositions()) {
                ops.ropeForwardAt(qkv, T, pos, c.nHead(), c.nKvHead(), c.headDim(), c.ropeTheta());
                round(qkv, T * c.qkvDim());
            }
            ops.attentionDecode(att, kCache[k / 2], vCache[k / 2], qkv, T, pos, c.nHead(), c.nKvHead(), c.headDim());
            round(att, T * c.qDim());
            ops.matmulForward(f, att, w.w2(), w.b2(), T, c.qDim(), C);
        } else {
            ops.matmulForward(fc, u, w.w1(), w.b1(), T, C, c.fcDim());
            round(fc, T * c.fcDim());
            switch (c.activation()) {
                case GELU_TANH -> ops.geluForward(act, fc, T * c.dFf());
                case SWIGLU -> ops.swigluForward(act, fc, T, c.dFf());
            }
            round(act, T * c.dFf());
            ops.matmulForward(f, act, w.w2(), w.b2(), T, c.dFf(), C);
        }
        round(f, T * C);
        float gate = c.residual() == Residual.REZERO ? w.gate()[0] : 1f;
        if (c.residual().normAfterSum()) {
            ops.residualForward(sum, x, skipAlpha, f, gate, T * C);
            norm(y, sum, w, T);
        } else {
            ops.residualForward(y, x, skipAlpha, f, gate, T * C);
        }
    }

    @Override
    public void close() {
        // heap buffers only
    }
}
