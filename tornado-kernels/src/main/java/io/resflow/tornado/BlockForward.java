package io.resflow.tornado;

import io.resflow.model.Activation;
import io.resflow.model.LayerBlock;
import io.resflow.model.LayerBlock.Slots;
import io.resflow.model.ModelConfig;
import io.resflow.model.Residual;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The tasks of one sub-block's forward, mirroring the reference engine's forwardBlock: reads its input h_k at hA
 * (attention) or hM (MLP) of layer l's slab and writes h_{k+1} to hM or to the next slab's hA. The training graphs
 * ({@link TrainingGraphs}) and the KV-cache decoder ({@link TornadoDecoder}) build the same block and differ only in
 * attention's core, which the caller adds ({@link Core}). Task names get {@code prefix} (a graph's task names must
 * be unique).
 *
 * <p>In bf16 ({@link DeviceLayout#bf16}) the block adds Engine's forward rounding points, each a rounding task on the
 * tensor in place ({@link #round}): the norm's output (without a pre-norm, a rounded copy of the input into the
 * norm's slot: the input is also the skip and stays fp32), q|k|v after the qkv matmul, the attention output, fc and
 * the activation's output, the branch output; the core rounds q|k|v again after RoPE.
 */
final class BlockForward {
    /** Attention's core: q|k|v at d.qkv (with RoPE applied here where the model has it) -> the heads' output at d.att. */
    interface Core {
        void add(GraphSpec s, String prefix, IntArray layer);
    }

    private final ModelConfig c;
    private final DeviceLayout d;
    private final DeviceOps ops;

    BlockForward(ModelConfig c, DeviceLayout d, DeviceOps ops) {
        this.c = c;
        this.d = d;
        this.ops = ops;
    }

    void add(GraphSpec s, String prefix, boolean attn, IntArray layer, Core core) {
        Residual r = c.residual();
        int as = d.aStride;
        int ps = d.pStride;
        Slots<Integer> w = slots(attn);
        int in = attn ? d.hA : d.hM;
        int out = attn ? d.hM : d.hA + as; // h_{k+1}: the MLP writes the next layer's slab
        int nb = attn ? d.nbA : d.nbM;
        int u = in;
        if (r.normBeforeBlock()) {
            ops.normForward(s, prefix + "norm", layer, nb, attn ? d.nbStatsA : d.nbStatsM, in,
                    w.normW(), w.normB(), as, ps);
            round(s, prefix + "round_norm", layer, nb, d.N * d.C);
            u = nb;
        } else if (d.bf16) {
            ops.roundCopy(s, prefix + "round_in", layer, nb, in, as);
            u = nb;
        }
        int f = attn ? d.fA : d.fM;
        if (attn) {
            ops.matmul(s, prefix + "qkv", layer, d.qkv, u, w.w1(), w.b1(), as, ps, d.C,
                    d.qkvDim);
            round(s, prefix + "round_qkv", layer, d.qkv, d.N * d.qkvDim);
            core.add(s, prefix, layer);
            round(s, prefix + "round_att", layer, d.att, d.N * d.qDim);
            ops.matmul(s, prefix + "proj", layer, f, d.att, w.w2(), w.b2(),
                    as, ps, d.qDim, d.C);
        } else {
            ops.matmul(s, prefix + "fc", layer, d.fc, u, w.w1(), w.b1(), as, ps, d.C,
                    d.fcDim);
            round(s, prefix + "round_fc", layer, d.fc, d.N * d.fcDim);
            ops.activation(s, prefix + activationName(), layer, d.actv, d.fc, as);
            round(s, prefix + "round_act", layer, d.actv, d.N * d.dFf);
            ops.matmul(s, prefix + "proj", layer, f, d.actv, w.w2(), w.b2(),
                    as, ps, d.dFf, d.C);
        }
        round(s, prefix + "round_f", layer, f, d.N * d.C);
        int gate = w.gate();
        if (r.normAfterSum()) {
            int sum = attn ? d.sumA : d.sumM;
            ops.join(s, prefix + "join", layer, sum, in, f, gate, as, ps);
            ops.normForward(s, prefix + "post_norm", layer, out, attn ? d.outStatsA : d.outStatsM, sum,
                    w.normW(), w.normB(), as, ps);
        } else {
            ops.join(s, prefix + "join", layer, out, in, f, gate, as, ps);
        }
    }

    /** In bf16, act[off + l aStride .. + n) rounded in place (a rounding point); nothing in fp32. */
    void round(GraphSpec s, String task, IntArray layer, int off, int n) {
        if (d.bf16) {
            ops.round(s, task, layer, off, d.aStride, n);
        }
    }

    /** The first matmul's input of the block: the pre-norm's output, in bf16 the input's rounded copy, else h_k. */
    int matmulInput(boolean attn) {
        return c.residual().normBeforeBlock() || d.bf16 ? (attn ? d.nbA : d.nbM) : (attn ? d.hA : d.hM);
    }

    /** The MLP activation's task name (its backward's too). */
    String activationName() {
        return c.activation() == Activation.SWIGLU ? "swiglu" : "gelu";
    }

    /**
     * Layer 0's parameter offsets of the attention or MLP block (-1 for a tensor the model does not have, the ReZero
     * gate outside ReZero included); every kernel adds layer * pStride.
     */
    Slots<Integer> slots(boolean attn) {
        return LayerBlock.of(0, attn).slots(d::param, d::param);
    }
}
