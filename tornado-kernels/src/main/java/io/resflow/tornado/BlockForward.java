package io.resflow.tornado;

import io.resflow.model.Activation;
import io.resflow.model.ModelConfig;
import io.resflow.model.Residual;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The tasks of one sub-block's forward, mirroring the reference engine's forwardBlock: reads its input h_k at hA
 * (attention) or hM (MLP) of layer l's slab and writes h_{k+1} to hM or to the next slab's hA. The training graphs
 * ({@link TrainingGraphs}) and the KV-cache decoder ({@link TornadoDecoder}) build the same block and differ only in
 * attention's core, which the caller adds ({@link Core}). Task names get {@code prefix} (a graph's task names must
 * be unique).
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
        String ln = attn ? "ln1" : "ln2";
        int in = attn ? d.hA : d.hM;
        int out = attn ? d.hM : d.hA + as; // h_{k+1}: the MLP writes the next layer's slab
        int nb = attn ? d.nbA : d.nbM;
        int u = in;
        if (r.normBeforeBlock()) {
            ops.normForward(s, prefix + "norm", layer, nb, attn ? d.nbStatsA : d.nbStatsM, in,
                    d.layerParam(ln + ".w"), d.layerParam(ln + ".b"), as, ps);
            u = nb;
        }
        int f = attn ? d.fA : d.fM;
        if (attn) {
            ops.matmul(s, prefix + "qkv", layer, d.qkv, u, d.layerParam("qkv.w"), d.layerParam("qkv.b"), as, ps, d.C,
                    d.qkvDim);
            core.add(s, prefix, layer);
            ops.matmul(s, prefix + "proj", layer, f, d.att, d.layerParam("attn_proj.w"), d.layerParam("attn_proj.b"),
                    as, ps, d.qDim, d.C);
        } else {
            ops.matmul(s, prefix + "fc", layer, d.fc, u, d.layerParam("fc.w"), d.layerParam("fc.b"), as, ps, d.C,
                    d.fcDim);
            ops.activation(s, prefix + activationName(), layer, d.actv, d.fc, as);
            ops.matmul(s, prefix + "proj", layer, f, d.actv, d.layerParam("mlp_proj.w"), d.layerParam("mlp_proj.b"),
                    as, ps, d.dFf, d.C);
        }
        int gate = gate(attn);
        if (r.normAfterSum()) {
            int sum = attn ? d.sumA : d.sumM;
            ops.join(s, prefix + "join", layer, sum, in, f, gate, as, ps);
            ops.normForward(s, prefix + "post_norm", layer, out, attn ? d.outStatsA : d.outStatsM, sum,
                    d.layerParam(ln + ".w"), d.layerParam(ln + ".b"), as, ps);
        } else {
            ops.join(s, prefix + "join", layer, out, in, f, gate, as, ps);
        }
    }

    /** The MLP activation's task name (its backward's too). */
    String activationName() {
        return c.activation() == Activation.SWIGLU ? "swiglu" : "gelu";
    }

    /** The ReZero gate's parameter offset for the sub-block, or -1 (no gate). */
    int gate(boolean attn) {
        return c.residual() == Residual.REZERO ? d.layerParam(attn ? "attn_alpha" : "mlp_alpha") : -1;
    }
}
