package io.resflow.tornado;

import io.resflow.model.LayerBlock.Slots;
import io.resflow.model.ModelConfig;
import io.resflow.model.Residual;
import io.resflow.tornado.kernels.AdamWKernels;
import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The task graphs of a training step, described as {@link GraphSpec}s in the order the plan holds them:
 * <pre>
 * owner                      holds every shared buffer (runs before each graph's first execution)
 * embed                      tokens -> h_0
 * attn, mlp   (L times each) one sub-block of layer l = layer[0], mirroring the reference engine's forwardBlock
 *                            (with recompute: into the shared slab, storing its output in the stream)
 * head / head_infer          final norm, logits, softmax cross-entropy, mean loss -> host / without the loss
 * head_bwd                   dlogits, head matmul backward, final norm backward
 * mlp_bwd, attn_bwd (L times each)  one sub-block's backward, mirroring the engine's backwardBlock; with
 *                            recompute it first loads the block's input from the stream and runs the block again
 * embed_bwd                  token / position embedding gradients
 * grad_norm                  two-pass sum of squares -> host
 * adamw                      one update over the flat parameter array
 * grad_upload                (data parallel only) host gradients -> the device's flat gradient array
 * download                   copies tensors back on demand
 * </pre>
 * In bf16 ({@link DeviceLayout#bf16}) the embed graph first makes the parameters' 16-bit copy that every matmul of
 * the step reads, and the graphs add Engine's rounding points as rounding tasks on the tensors in place (the block's
 * forward ones in {@link BlockForward}; the head's lnf and logits; backward: dlogits, dlnf, each block's branch
 * gradient dF, dAtt, dQkv after attention's backward and again after RoPE's, dAct, dFc, and the first matmul's input
 * gradient, which without a pre-norm is made on its own and added, rounded, into the stream's).
 * Owns the graphs' per-call inputs and outputs: the host tokens, the layer index of each per-layer graph, AdamW's
 * hyper-parameters, the loss and the squared gradient norm. Which kernels implement the ops is {@link DeviceOps}'s.
 */
final class TrainingGraphs {
    private final ModelConfig c;
    private final DeviceLayout d;
    private final DeviceBuffers b;
    private final DeviceOps ops;
    private final BlockForward block;
    private final IntArray zero;

    /** inputs | targets from the host (EVERY_EXECUTION). */
    final IntArray tokIn;
    final IntArray layerA = new IntArray(1);
    final IntArray layerM = new IntArray(1);
    final IntArray layerAB = new IntArray(1);
    final IntArray layerMB = new IntArray(1);
    final FloatArray lossOut = new FloatArray(1);
    final FloatArray normOut = new FloatArray(1);
    final FloatArray hyper = new FloatArray(AdamWKernels.SIZE);

    /** Host gradients sent to the device by grad_upload (EVERY_EXECUTION); null without gradient exchange. */
    final FloatArray gradIn;

    TrainingGraphs(ModelConfig c, DeviceBuffers b, DeviceOps ops, boolean gradientExchange) {
        this.c = c;
        this.d = b.d;
        this.b = b;
        this.ops = ops;
        this.block = new BlockForward(c, d, ops);
        this.zero = b.zero;
        this.tokIn = new IntArray(2 * d.N);
        this.gradIn = gradientExchange ? new FloatArray(d.paramCount) : null;
    }

    /** Every graph of the plan, the owner first. */
    List<GraphSpec> specs() {
        LaunchShapes shapes = ops.shapes();
        List<GraphSpec> specs = new ArrayList<>();
        specs.add(b.ownerGraph(shapes));
        specs.add(embedGraph());
        specs.add(blockGraph("attn", true, layerA));
        specs.add(blockGraph("mlp", false, layerM));
        specs.add(headGraph("head", true));
        specs.add(headGraph("head_infer", false));
        specs.add(headBackwardGraph());
        specs.add(blockBackwardGraph("mlp_bwd", false, layerMB));
        specs.add(blockBackwardGraph("attn_bwd", true, layerAB));
        specs.add(embedBackwardGraph());
        GraphSpec norm = new GraphSpec("grad_norm", zero).toHost(normOut);
        ops.sumSquares(norm, normOut);
        specs.add(norm);
        GraphSpec adamw = new GraphSpec("adamw", zero).everyExecution(hyper);
        ops.adamw(adamw, "step", hyper);
        specs.add(adamw);
        if (gradIn != null) {
            // grad_upload: the gradients averaged on the host (a data-parallel all-reduce) replace the device's
            GraphSpec up = new GraphSpec("grad_upload", zero).everyExecution(gradIn);
            ops.uploadGradients(up, gradIn);
            specs.add(up);
        }
        specs.add(b.downloadGraph(shapes));
        return specs;
    }

    private GraphSpec embedGraph() {
        GraphSpec s = new GraphSpec("embed", zero).everyExecution(tokIn);
        if (d.bf16) {
            // the matmuls' bf16 weights, once per step: the parameters change only in the AdamW graph
            ops.bf16Weights(s, "weights");
        }
        ops.loadTokens(s, "tokens", tokIn);
        ops.embed(s, "embed", d.hA);
        if (d.recompute) {
            ops.copyStream(s, "store", zero, d.streamAt(0), 0, d.hA, 0);
        }
        return s;
    }

    /**
     * One sub-block (attention or MLP) of layer l = layer[0]. With recompute the block computes into the shared slab
     * (aStride 0) and a last task stores its output h_{k+1} into the stream.
     */
    private GraphSpec blockGraph(String name, boolean attn, IntArray layer) {
        GraphSpec s = new GraphSpec(name, zero).everyExecution(layer);
        block.add(s, "", attn, layer, this::attentionCore);
        if (d.recompute) {
            int nc = d.N * d.C;
            // attn of layer l: h_{2l+1} from hM; mlp: h_{2l+2} from the slab's hA (= hA + aStride with aStride 0)
            ops.copyStream(s, "store", layer, d.streamAt(attn ? 1 : 2), 2 * nc, attn ? d.hM : d.hA, 0);
        }
        return s;
    }

    /** Attention's core in the training graphs: RoPE where the model has it, then causal attention over the batch. */
    private void attentionCore(GraphSpec s, String prefix, IntArray layer) {
        if (!c.learnedPositions()) {
            ops.ropeForward(s, prefix + "rope", layer, d.qkv, d.aStride);
            block.round(s, prefix + "round_rope", layer, d.qkv, d.N * d.qkvDim);
        }
        ops.attention(s, prefix + "attention", layer, d.att, d.attState, d.qkv, d.aStride);
    }

    private int headWeight() {
        return c.tieEmbeddings() ? d.param("wte") : d.param("lm_head");
    }

    private GraphSpec headGraph(String name, boolean loss) {
        GraphSpec s = new GraphSpec(name, zero);
        ops.normForward(s, "norm", zero, d.lnf, d.lnfStats, d.hFinal, d.param("lnf.w"), d.param("lnf.b"), 0, 0);
        block.round(s, "round_norm", zero, d.lnf, d.N * d.C);
        ops.matmul(s, "logits", zero, d.logits, d.lnf, headWeight(), -1, 0, 0, d.C, d.V);
        block.round(s, "round_logits", zero, d.logits, d.N * d.V);
        if (loss) {
            s.toHost(lossOut);
            ops.crossEntropy(s, "softmax", "mean", lossOut);
        }
        return s;
    }

    private GraphSpec headBackwardGraph() {
        GraphSpec s = new GraphSpec("head_bwd", zero);
        ops.crossEntropyBackward(s, "dlogits");
        roundGradient(s, "round_dlogits", d.dLogits, d.N * d.V);
        // the head weight's gradient is written (=) here; when tied, the embedding backward adds the scatter later
        ops.matmulBackward(s, "logits", zero, d.dLnf, false, d.dLogits, d.lnf, headWeight(), -1, 0, 0, d.C, d.V);
        roundGradient(s, "round_dlnf", d.dLnf, d.N * d.C);
        ops.normBackward(s, "norm", zero, d.dA, d.dLnf, d.hFinal, d.lnfStats, d.param("lnf.w"), d.param("lnf.b"), 0,
                0, false);
        if (!c.tieEmbeddings()) {
            ops.zeroGrad(s, "zero_wte", d.param("wte"), d.V * d.C);
        }
        return s;
    }

    /**
     * Backward of one sub-block of layer l = layer[0], mirroring the reference engine's backwardBlock. The MLP blocks
     * read the stream gradient from dA and write the block input's gradient to dB, attention blocks the other way.
     */
    private GraphSpec blockBackwardGraph(String name, boolean attn, IntArray layer) {
        GraphSpec s = new GraphSpec(name, zero).everyExecution(layer);
        if (d.recompute) {
            // Engine's recompute: the block's input h_k from the stream into the slab, the block again, then its
            // backward reads the slab exactly as it would read layer l's own slab without recompute
            int nc = d.N * d.C;
            ops.copyStream(s, "load", layer, attn ? d.hA : d.hM, 0, d.streamAt(attn ? 0 : 1), 2 * nc);
            block.add(s, "re_", attn, layer, this::attentionCore);
        }
        Residual r = c.residual();
        int as = d.aStride;
        int ps = d.pStride;
        Slots<Integer> w = block.slots(attn);
        int dOut = attn ? d.dB : d.dA;
        int dIn = attn ? d.dA : d.dB;
        int in = attn ? d.hA : d.hM;
        int f = attn ? d.fA : d.fM;
        int dd = dOut;
        if (r.normAfterSum()) {
            int sum = attn ? d.sumA : d.sumM;
            ops.normBackward(s, "post_norm", layer, d.dSum, dOut, sum, attn ? d.outStatsA : d.outStatsM,
                    w.normW(), w.normB(), as, ps, false);
            dd = d.dSum;
        }
        int gate = w.gate();
        ops.joinBackward(s, "join", layer, dIn, d.dF, dd, gate, ps);
        if (gate >= 0) {
            ops.gateGradient(s, "gate", layer, gate, dd, f, as, ps);
        }
        roundGradient(s, "round_df", d.dF, d.N * d.C);
        boolean pre = r.normBeforeBlock();
        int u = block.matmulInput(attn);
        // the first matmul's input gradient: into dNorm behind a pre-norm (the norm's backward adds it to dIn), else
        // added straight into dIn; in bf16 without a pre-norm made in dNorm on its own, then added rounded
        boolean own = pre || d.bf16;
        int du = own ? d.dNorm : dIn;
        if (attn) {
            ops.matmulBackward(s, "proj", layer, d.dAtt, false, d.dF, d.att, w.w2(), w.b2(), as, ps, d.qDim, d.C);
            roundGradient(s, "round_datt", d.dAtt, d.N * d.qDim);
            ops.attentionBackward(s, "attention", layer, d.dAtt, d.att, d.attState, d.qkv, as, d.dAttState, d.dQkv);
            roundGradient(s, "round_dqkv", d.dQkv, d.N * d.qkvDim);
            if (!c.learnedPositions()) {
                ops.ropeBackward(s, "rope", d.dQkv);
                roundGradient(s, "round_drope", d.dQkv, d.N * d.qkvDim);
            }
            ops.matmulBackward(s, "qkv", layer, du, !own, d.dQkv, u, w.w1(), w.b1(), as,
                    ps, d.C, d.qkvDim);
        } else {
            ops.matmulBackward(s, "proj", layer, d.dAct, false, d.dF, d.actv, w.w2(), w.b2(), as, ps, d.dFf, d.C);
            roundGradient(s, "round_dact", d.dAct, d.N * d.dFf);
            ops.activationBackward(s, block.activationName(), layer, d.dFc, d.dAct, d.fc, as);
            roundGradient(s, "round_dfc", d.dFc, d.N * d.fcDim);
            ops.matmulBackward(s, "fc", layer, du, !own, d.dFc, u, w.w1(), w.b1(), as, ps,
                    d.C, d.fcDim);
        }
        if (d.bf16 && !pre) {
            ops.addRounded(s, "round_din", dIn, d.dNorm);
        } else if (d.bf16) {
            roundGradient(s, "round_dnorm", d.dNorm, d.N * d.C);
        }
        if (pre) {
            ops.normBackward(s, "norm", layer, dIn, d.dNorm, in, attn ? d.nbStatsA : d.nbStatsM,
                    w.normW(), w.normB(), as, ps, true);
        }
        return s;
    }

    /** In bf16, dact[off .. off+n) rounded in place (a backward rounding point); nothing in fp32. */
    private void roundGradient(GraphSpec s, String task, int off, int n) {
        if (d.bf16) {
            ops.roundGradient(s, task, off, n);
        }
    }

    private GraphSpec embedBackwardGraph() {
        GraphSpec s = new GraphSpec("embed_bwd", zero);
        ops.embedBackwardTokens(s, "tokens", d.dA);
        if (c.learnedPositions()) {
            ops.embedBackwardPositions(s, "positions", d.dA);
        }
        return s;
    }
}
