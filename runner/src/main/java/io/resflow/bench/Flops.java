package io.resflow.bench;

import io.resflow.model.ModelConfig;

/**
 * Floating-point operations of one step, counting a multiply-add as 2 and only the matrix products: per layer the
 * q|k|v projection, attention scores and weighted values (causal: position t attends to t+1 keys), the attention
 * output projection and the MLP; then the output head. A training step counts 3 forward passes (the backward pass
 * does two products per forward product); norms, activations, softmax and the optimizer are left out.
 */
public final class Flops {
    private Flops() {
    }

    static double forward(ModelConfig c, int batch, int seqLen) {
        double d = c.dModel();
        double perToken = c.nLayer() * (2 * d * c.qkvDim() + 2.0 * c.qDim() * d + 2 * d * c.fcDim() + 2.0 * c.dFf() * d)
                + 2 * d * c.vocabSize();
        double attention = c.nLayer() * 2.0 * c.qDim() * seqLen * (seqLen + 1.0); // QK^T and AV, causal, per sequence
        return batch * (seqLen * perToken + attention);
    }

    static double trainStep(ModelConfig c, int batch, int seqLen) {
        return 3 * forward(c, batch, seqLen);
    }
}
