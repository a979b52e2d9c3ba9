package io.resflow.model;

/**
 * A residual transformer's architecture. Built by {@link ModelConfigs} from the project's JSON schema or a
 * Hugging Face {@code config.json}; every field is resolved (no defaults left open).
 *
 * <p>Internal parameter layout (see {@link ParamLayout}): linear weights are stored (out, in) like nn.Linear,
 * so {@code y = x W^T + b}. The attention input projection is fused: rows are q (n_head*head_dim), then k and v
 * (n_kv_head*head_dim each). The MLP input projection has d_ff rows for GELU, 2*d_ff for SwiGLU (gate rows, then
 * up rows).
 */
public record ModelConfig(
        Family family,
        int nLayer,
        int dModel,
        int nHead,
        int nKvHead,
        int headDim,
        int dFf,
        int vocabSize,
        int maxSeqLen,
        Norm norm,
        double normEps,
        Activation activation,
        Positions positions,
        double ropeTheta,
        boolean tieEmbeddings,
        Residual residual,
        long initSeed) {

    public ModelConfig {
        require(nLayer > 0, "n_layer", "must be positive, got " + nLayer);
        require(dModel > 0, "d_model", "must be positive, got " + dModel);
        require(nHead > 0, "n_head", "must be positive, got " + nHead);
        require(nKvHead > 0, "n_kv_head", "must be positive, got " + nKvHead);
        require(nHead % nKvHead == 0, "n_kv_head", "n_head (" + nHead + ") is not divisible by n_kv_head (" + nKvHead + ")");
        require(headDim > 0, "head_dim", "must be positive, got " + headDim);
        require(dFf > 0, "d_ff", "must be positive, got " + dFf);
        require(vocabSize > 0, "vocab_size", "must be positive, got " + vocabSize);
        require(maxSeqLen > 0, "max_seq_len", "must be positive, got " + maxSeqLen);
        require(normEps > 0 && Double.isFinite(normEps), "norm_eps", "must be a positive number, got " + normEps);
        require(positions != Positions.ROPE || headDim % 2 == 0, "head_dim", "RoPE needs an even head_dim, got " + headDim);
        require(positions != Positions.ROPE || (ropeTheta > 0 && Double.isFinite(ropeTheta)), "rope_theta", "must be positive, got " + ropeTheta);
        require(nLayer <= MAX_LAYERS, "n_layer", "at most " + MAX_LAYERS + " layers are supported, got " + nLayer);
        checkSizes(nLayer, dModel, nHead, nKvHead, headDim, dFf, vocabSize, maxSeqLen, positions, activation);
    }

    /** The most layers a model may have (its parameter layout is a list of tensors per layer). */
    public static final int MAX_LAYERS = 65_536;

    /**
     * Every parameter tensor must fit one Java array: its shape is checked in {@code long} before anything is
     * allocated, and the message names the field that is too large (as the config spells it).
     */
    private static void checkSizes(int nLayer, int dModel, int nHead, int nKvHead, int headDim, int dFf, int vocab,
            int maxSeq, Positions positions, Activation activation) {
        try {
            Sizes.Dim c = Sizes.Dim.field("d_model", dModel);
            Sizes.Dim v = Sizes.Dim.field("vocab_size", vocab);
            Sizes.Dim h = Sizes.Dim.field("n_head", nHead);
            Sizes.Dim kv = Sizes.Dim.field("n_kv_head", nKvHead);
            Sizes.Dim hd = Sizes.Dim.field("head_dim", headDim);
            Sizes.Dim ff = Sizes.Dim.field("d_ff", dFf);
            long q = (long) nHead * headDim;
            long qkv = q + 2L * nKvHead * headDim;
            long fc = activation == Activation.SWIGLU ? 2L * dFf : dFf;
            Sizes.check("tensor wte", "['vocab_size', 'd_model']", new long[] {vocab, dModel}, v, c);
            if (positions == Positions.LEARNED) {
                Sizes.check("tensor wpe", "['max_seq_len', 'd_model']", new long[] {maxSeq, dModel},
                        Sizes.Dim.field("max_seq_len", maxSeq), c);
            }
            Sizes.check("tensor h.0.qkv.w", "[('n_head' + 2 'n_kv_head') x 'head_dim', 'd_model']", new long[] {qkv, dModel},
                    c, h, kv, hd);
            Sizes.check("tensor h.0.attn_proj.w", "['d_model', 'n_head' x 'head_dim']", new long[] {dModel, q}, c, h, hd);
            Sizes.check("tensor h.0.fc.w", "[" + (fc == dFf ? "" : "2 ") + "'d_ff', 'd_model']", new long[] {fc, dModel}, ff, c);
            Sizes.check("tensor h.0.mlp_proj.w", "['d_model', 'd_ff']", new long[] {dModel, dFf}, c, ff);
        } catch (BadInputException e) {
            throw new BadInputException("model config " + e.getMessage());
        }
    }

    private static void require(boolean ok, String field, String message) {
        if (!ok) {
            throw new BadInputException("model config field '" + field + "': " + message);
        }
    }

    /** Linear layers (and LayerNorm) carry biases: GPT-2 yes, Llama no. */
    public boolean linearBias() {
        return family == Family.GPT2;
    }

    /** LayerNorm carries a bias when the family has biases; RMSNorm never does. */
    public boolean normBias() {
        return linearBias() && norm == Norm.LAYERNORM;
    }

    public int qDim() {
        return nHead * headDim;
    }

    public int kvDim() {
        return nKvHead * headDim;
    }

    /** Width of the fused q|k|v projection. */
    public int qkvDim() {
        return qDim() + 2 * kvDim();
    }

    /** Rows of the MLP input projection: d_ff for GELU, 2*d_ff (gate, up) for SwiGLU. */
    public int fcDim() {
        return activation == Activation.SWIGLU ? 2 * dFf : dFf;
    }

    public boolean learnedPositions() {
        return positions == Positions.LEARNED;
    }

    public ModelConfig withResidual(Residual r) {
        return new ModelConfig(family, nLayer, dModel, nHead, nKvHead, headDim, dFf, vocabSize, maxSeqLen, norm, normEps,
                activation, positions, ropeTheta, tieEmbeddings, r, initSeed);
    }

    public ModelConfig withLayers(int layers) {
        return new ModelConfig(family, layers, dModel, nHead, nKvHead, headDim, dFf, vocabSize, maxSeqLen, norm, normEps,
                activation, positions, ropeTheta, tieEmbeddings, residual, initSeed);
    }

    /** Number of trainable parameters. */
    public long parameterCount() {
        return ParamLayout.of(this).totalSize();
    }
}
