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
