package io.resflow.engine;

import io.resflow.model.BadInputException;
import io.resflow.model.LayerBlock;
import io.resflow.model.LayerBlock.Slots;
import io.resflow.model.ModelConfig;
import io.resflow.model.Norm;
import io.resflow.model.Params;
import io.resflow.model.Residual;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The layer loop of a residual transformer, written once over {@link Ops}, so the reference and the JVM backend run
 * the same schedule with different kernels.
 *
 * <p>The residual stream is h_0 = embed(tokens), then 2L sub-blocks (attention, MLP, attention, ...), each
 * h_{k+1} = join(h_k, F_k(...)) as {@link Residual} defines, then the final norm, the output head and the mean
 * cross-entropy. Backward walks the sub-blocks in reverse; each sends the gradient both through the skip path
 * (alpha * dh) and into its block, accumulating both into dh_k, exactly as the math says.
 *
 * <p>No gradient buffer is cleared before a backward: the first write of each, parameter or activation gradient,
 * is a store ({@code add} false in {@link Ops}), every later one an accumulate. Where one op's outputs differ (the
 * stream gradient dh_k accumulates what the block's norm or first matmul sends back while that op's parameter
 * gradients are first written; the tied token embedding takes the scatter on top of the head's gradient while the
 * position embedding is first written), the op is called once per kind of output.
 *
 * <p>With {@link SessionOptions#recompute()} only the stream h_k (each block's input) is kept; each block is run again
 * just before its backward, into one shared scratch, which gives bit-identical gradients with far less memory.
 */
public final class Engine implements Session {
    private final ModelConfig c;
    private final Ops ops;
    private final int B;
    private final int T;
    private final int N;
    private final int C;
    private final int V;
    private final boolean recompute;
    private final boolean bf16; // the rounding points of Precision.BF16
    private final float[] ub; // bf16 copy of a block input that is also the skip (no norm before the block)
    private final float skipAlpha;
    private final Params params;
    private final Params grads;
    private final Params m;
    private final Params v;
    private int step;

    private final float[][] h; // residual stream h_0 .. h_2L, each (N,C)
    private final Block[] blocks; // one per sub-block, or two shared scratch blocks with recompute
    private final float[] lnf;
    private final float[] lnfMean;
    private final float[] lnfRstd;
    private final float[] logits;
    private final float[] probs;
    private final float[] losses;
    private final int[] inputs;
    private final int[] targets;
    private boolean haveForward;
    private boolean haveTargets;
    private final double[] streamGradNorms; // ||dL/dh_k|| for k = 0 .. 2L, from the last backward
    private final Slots<float[]>[] paramSlots; // per sub-block, the parameter arrays it uses
    private final Slots<float[]>[] gradSlots; // and their gradients
    private final Slots<float[]> lnfParams;
    private final Slots<float[]> lnfGrads;
    // layout offsets for backward(GradientsReady): where block k's tensors start, the final norm, the untied head
    private final long[] blockStart;
    private final long lnfStart;
    private final long headStart;

    // backward scratch
    private final float[] dlogits;
    private final float[] dlnf;
    private final float[] dhA;
    private final float[] dhB;
    private final float[] dSum;
    private final float[] dF;
    private final float[] dNorm;
    private final float[] dQkv;
    private final float[] dAtt;
    private final float[] dFc;
    private final float[] dAct;

    public Engine(ModelConfig config, Params init, int batch, int seqLen, SessionOptions options, Ops ops) {
        if (seqLen > config.maxSeqLen()) {
            throw new BadInputException("seq_len " + seqLen + " is longer than the model's max_seq_len " + config.maxSeqLen());
        }
        if (batch <= 0 || seqLen <= 0) {
            throw new BadInputException("batch and seq_len must be positive, got " + batch + " and " + seqLen);
        }
        this.c = config;
        this.ops = ops;
        this.B = batch;
        this.T = seqLen;
        io.resflow.model.Sizes.checkBatch(config, io.resflow.model.Sizes.Dim.field("batch", batch),
                io.resflow.model.Sizes.Dim.field("seq_len", seqLen));
        if (ops.attentionStateSize(batch, seqLen, config.nHead()) > io.resflow.model.Sizes.MAX_TENSOR_VALUES) {
            throw new BadInputException("field '" + (batch > seqLen ? "batch" : "seq_len") + "' is too large for this "
                    + "backend: its attention state for batch " + batch + " x n_head " + config.nHead() + " x seq_len "
                    + seqLen + " would hold " + String.format("%,d", ops.attentionStateSize(batch, seqLen, config.nHead()))
                    + " values; the limit is " + String.format("%,d", io.resflow.model.Sizes.MAX_TENSOR_VALUES)
                    + " values per tensor");
        }
        this.N = batch * seqLen;
        this.C = config.dModel();
        this.V = config.vocabSize();
        this.recompute = options.recompute();
        if (options.precision() != ops.precision()) {
            throw new IllegalArgumentException("session precision " + options.precision() + " but ops in "
                    + ops.precision());
        }
        this.bf16 = ops.precision() == Precision.BF16;
        this.ub = bf16 && !config.residual().normBeforeBlock() ? new float[batch * seqLen * config.dModel()] : null;
        this.skipAlpha = config.residual().skipAlpha(config.nLayer());
        this.params = options.adoptInit() ? init : init.copy();
        params.checkAgainst(io.resflow.model.ParamLayout.of(config), "initial parameters");
        this.grads = zerosLike(params);
        this.m = zerosLike(params);
        this.v = zerosLike(params);
        int sub = 2 * config.nLayer();
        this.h = new float[sub + 1][];
        for (int k = 0; k <= sub; k++) {
            h[k] = new float[N * C];
        }
        this.blocks = new Block[recompute ? 2 : sub];
        for (int k = 0; k < blocks.length; k++) {
            blocks[k] = new Block(k % 2 == 0);
        }
        this.lnf = new float[N * C];
        this.lnfMean = new float[N];
        this.lnfRstd = new float[N];
        this.logits = new float[N * V];
        this.probs = new float[N * V];
        this.losses = new float[N];
        this.inputs = new int[N];
        this.targets = new int[N];
        this.dlogits = new float[N * V];
        this.dlnf = new float[N * C];
        this.dhA = new float[N * C];
        this.dhB = new float[N * C];
        this.dSum = new float[N * C];
        this.dF = new float[N * C];
        this.dNorm = new float[N * C];
        this.dQkv = new float[N * c.qkvDim()];
        this.dAtt = new float[N * c.qDim()];
        this.dFc = new float[N * c.fcDim()];
        this.dAct = new float[N * c.dFf()];
        this.streamGradNorms = new double[sub + 1];
        this.paramSlots = new Slots[sub];
        this.gradSlots = new Slots[sub];
        for (int k = 0; k < sub; k++) {
            paramSlots[k] = LayerBlock.at(k).slots(params::data, params::dataOrNull);
            gradSlots[k] = LayerBlock.at(k).slots(grads::data, grads::dataOrNull);
        }
        this.lnfParams = Slots.norm("lnf", params::data, params::dataOrNull);
        this.lnfGrads = Slots.norm("lnf", grads::data, grads::dataOrNull);
        this.blockStart = new long[sub];
        for (int k = 0; k < sub; k++) {
            LayerBlock b = LayerBlock.at(k);
            long start = Long.MAX_VALUE;
            for (String n : new String[] {b.norm() + ".w", b.norm() + ".b", b.in() + ".w", b.in() + ".b",
                    b.out() + ".w", b.out() + ".b", b.gate()}) {
                if (grads.has(n)) {
                    start = Math.min(start, grads.offset(n));
                }
            }
            blockStart[k] = start;
        }
        this.lnfStart = grads.offset("lnf.w");
        this.headStart = c.tieEmbeddings() ? lnfStart : grads.offset("lm_head");
    }

    private static Params zerosLike(Params p) {
        Params z = new Params();
        for (var t : p.tensors()) {
            z.put(io.resflow.model.Tensor.zeros(t.name(), t.shape()));
        }
        return z;
    }

    /** Activations of one sub-block (attention or MLP). */
    private final class Block {
        final boolean attn;
        final float[] nb; // norm before the block (pre, none)
        final float[] nbMean = new float[N];
        final float[] nbRstd = new float[N];
        final float[] qkv;
        final float[] att;
        final float[] attState;
        final float[] fc;
        final float[] act;
        final float[] f = new float[N * C];
        final float[] sum; // skip + branch before the norm (post, deepnorm)
        final float[] outMean = new float[N];
        final float[] outRstd = new float[N];

        Block(boolean attn) {
            this.attn = attn;
            this.nb = c.residual().normBeforeBlock() ? new float[N * C] : null;
            this.sum = c.residual().normAfterSum() ? new float[N * C] : null;
            if (attn) {
                qkv = new float[N * c.qkvDim()];
                att = new float[N * c.qDim()];
                attState = new float[(int) ops.attentionStateSize(B, T, c.nHead())];
                fc = null;
                act = null;
            } else {
                qkv = null;
                att = null;
                attState = null;
                fc = new float[N * c.fcDim()];
                act = new float[N * c.dFf()];
            }
        }
    }

    private Block block(int k) {
        return recompute ? blocks[k % 2] : blocks[k];
    }

    private float gate(int k) {
        return c.residual() == Residual.REZERO ? paramSlots[k].gate()[0] : 1f;
    }

    // ---- norms (layernorm or rmsnorm as the config says) ----

    private void normForward(float[] out, float[] mean, float[] rstd, float[] in, Slots<float[]> p) {
        float eps = (float) c.normEps();
        if (c.norm() == Norm.LAYERNORM) {
            ops.layerNormForward(out, mean, rstd, in, p.normW(), p.normB(), N, C, eps);
        } else {
            ops.rmsNormForward(out, rstd, in, p.normW(), N, C, eps);
        }
    }

    /** The norm's gradients: its parameters' first written, dIn first written or (addInput) accumulated into. */
    private void normBackward(float[] dIn, boolean addInput, float[] dOut, float[] in, float[] mean, float[] rstd,
            Slots<float[]> p, Slots<float[]> g) {
        if (addInput) {
            normBackward(dIn, null, null, true, dOut, in, mean, rstd, p);
            normBackward(null, g.normW(), g.normB(), false, dOut, in, mean, rstd, p);
        } else {
            normBackward(dIn, g.normW(), g.normB(), false, dOut, in, mean, rstd, p);
        }
    }

    private void normBackward(float[] dIn, float[] dw, float[] db, boolean add, float[] dOut, float[] in, float[] mean,
            float[] rstd, Slots<float[]> p) {
        if (c.norm() == Norm.LAYERNORM) {
            ops.layerNormBackward(dIn, dw, db, dOut, in, p.normW(), mean, rstd, N, C, add);
        } else {
            ops.rmsNormBackward(dIn, dw, dOut, in, p.normW(), rstd, N, C, add);
        }
    }

    // ---- forward ----

    @Override
    public double forward(int[] in, int[] tgt) {
        checkTokens(in, "input");
        System.arraycopy(in, 0, inputs, 0, N);
        haveTargets = tgt != null;
        if (haveTargets) {
            checkTokens(tgt, "target");
            System.arraycopy(tgt, 0, targets, 0, N);
        }
        ops.parametersChanged(params);
        ops.embeddingForward(h[0], inputs, params.data("wte"), params.dataOrNull("wpe"), B, T, C);
        for (int k = 0; k < 2 * c.nLayer(); k++) {
            forwardBlock(k);
        }
        normForward(lnf, lnfMean, lnfRstd, h[2 * c.nLayer()], lnfParams);
        round(lnf, N * C);
        ops.matmulForward(logits, lnf, head(params), null, N, C, V);
        round(logits, N * V);
        haveForward = true;
        if (!haveTargets) {
            return Double.NaN;
        }
        return ops.crossEntropyForward(losses, probs, logits, targets, N, V);
    }

    private float[] head(Params p) {
        return c.tieEmbeddings() ? p.data("wte") : p.data("lm_head");
    }

    private void checkTokens(int[] tokens, String what) {
        if (tokens.length != N) {
            throw new BadInputException(what + " tokens: expected B*T = " + N + " ids, got " + tokens.length);
        }
        for (int i = 0; i < N; i++) {
            if (tokens[i] < 0 || tokens[i] >= V) {
                throw new BadInputException(what + " token at position " + i + " is " + tokens[i]
                        + ", outside the vocabulary [0, " + V + ")");
            }
        }
    }

    private void forwardBlock(int k) {
        Block a = block(k);
        float[] in = h[k];
        Slots<float[]> p = paramSlots[k];
        if (a.nb != null) {
            normForward(a.nb, a.nbMean, a.nbRstd, in, p);
            round(a.nb, N * C);
        }
        float[] u = blockInput(a, in);
        if (a.attn) {
            ops.matmulForward(a.qkv, u, p.w1(), p.b1(), N, C, c.qkvDim());
            round(a.qkv, N * c.qkvDim());
            if (!c.learnedPositions()) {
                ops.ropeForward(a.qkv, B, T, c.nHead(), c.nKvHead(), c.headDim(), c.ropeTheta());
                round(a.qkv, N * c.qkvDim());
            }
            ops.attentionForward(a.att, a.attState, a.qkv, B, T, c.nHead(), c.nKvHead(), c.headDim());
            round(a.att, N * c.qDim());
            ops.matmulForward(a.f, a.att, p.w2(), p.b2(), N, c.qDim(), C);
        } else {
            ops.matmulForward(a.fc, u, p.w1(), p.b1(), N, C, c.fcDim());
            round(a.fc, N * c.fcDim());
            activationForward(a);
            round(a.act, N * c.dFf());
            ops.matmulForward(a.f, a.act, p.w2(), p.b2(), N, c.dFf(), C);
        }
        round(a.f, N * C);
        if (a.sum != null) {
            ops.residualForward(a.sum, in, skipAlpha, a.f, gate(k), N * C);
            normForward(h[k + 1], a.outMean, a.outRstd, a.sum, p);
        } else {
            ops.residualForward(h[k + 1], in, skipAlpha, a.f, gate(k), N * C);
        }
    }

    /**
     * What the block's first matmul reads: the norm's output, or without a norm the stream h_k itself, which in bf16
     * is rounded into a copy (h_k is also the skip and stays fp32).
     */
    private float[] blockInput(Block a, float[] in) {
        if (a.nb != null) {
            return a.nb;
        }
        if (!bf16) {
            return in;
        }
        System.arraycopy(in, 0, ub, 0, N * C);
        ops.roundBf16(ub, N * C);
        return ub;
    }

    /** A bf16 rounding point (see {@link Precision}); nothing in fp32. */
    private void round(float[] x, int n) {
        if (bf16) {
            ops.roundBf16(x, n);
        }
    }

    private void activationForward(Block a) {
        switch (c.activation()) {
            case GELU_TANH -> ops.geluForward(a.act, a.fc, N * c.dFf());
            case SWIGLU -> ops.swigluForward(a.act, a.fc, N, c.dFf());
        }
    }

    // ---- backward ----

    @Override
    public void backward() {
        backward(from -> { });
    }

    /**
     * Reports after the head, the final norm and every block, whose parameters sit in the layout in forward order
     * (wte, wpe, block 0 .. 2L-1, lnf, lm_head): when block k is done, everything from its first tensor on is final.
     */
    @Override
    public void backward(GradientsReady ready) {
        if (!haveForward || !haveTargets) {
            throw new IllegalStateException("backward() needs a forward() with targets first");
        }
        // every buffer's first write stores (add = false): nothing is cleared first
        ops.crossEntropyBackward(dlogits, probs, targets, N, V, false);
        round(dlogits, N * V);
        ops.matmulBackward(dlnf, head(grads), null, dlogits, lnf, head(params), N, C, V, false);
        round(dlnf, N * C);
        if (!c.tieEmbeddings()) {
            ready.from(headStart);
        }
        int sub = 2 * c.nLayer();
        float[] dOut = dhA;
        float[] dIn = dhB;
        normBackward(dOut, false, dlnf, h[sub], lnfMean, lnfRstd, lnfParams, lnfGrads);
        ready.from(lnfStart);
        streamGradNorms[sub] = Math.sqrt(ops.sumSquares(dOut, N * C));
        for (int k = sub - 1; k >= 0; k--) {
            if (recompute) {
                forwardBlock(k);
            }
            backwardBlock(k, dOut, dIn);
            ready.from(blockStart[k]);
            streamGradNorms[k] = Math.sqrt(ops.sumSquares(dIn, N * C));
            float[] t = dOut;
            dOut = dIn;
            dIn = t;
        }
        // tied: the head's gradient is already in wte's, the scatter adds to it
        ops.embeddingBackward(grads.data("wte"), null, dOut, inputs, B, T, C, c.tieEmbeddings());
        if (c.learnedPositions()) {
            ops.embeddingBackward(null, grads.data("wpe"), dOut, inputs, B, T, C, false);
        }
        ready.from(0);
    }

    /** dOut = dL/dh_{k+1}; writes dL/dh_k into dIn: the skip path first (a store), then what the block sends back. */
    private void backwardBlock(int k, float[] dOut, float[] dIn) {
        Block a = block(k);
        float[] in = h[k];
        Slots<float[]> p = paramSlots[k];
        Slots<float[]> g = gradSlots[k];
        float[] d = dOut;
        if (a.sum != null) {
            normBackward(dSum, false, dOut, a.sum, a.outMean, a.outRstd, p, g);
            d = dSum;
        }
        double dGate = ops.residualBackward(dIn, dF, d, skipAlpha, a.f, gate(k), N * C, false);
        if (c.residual() == Residual.REZERO) {
            g.gate()[0] = (float) dGate;
        }
        round(dF, N * C);
        float[] u = blockInput(a, in);
        if (a.attn) {
            ops.matmulBackward(dAtt, g.w2(), g.b2(), dF, a.att, p.w2(), N, c.qDim(), C, false);
            round(dAtt, N * c.qDim());
            ops.attentionBackward(dQkv, dAtt, a.qkv, a.att, a.attState, B, T, c.nHead(), c.nKvHead(), c.headDim(),
                    false);
            round(dQkv, N * c.qkvDim());
            if (!c.learnedPositions()) {
                ops.ropeBackward(dQkv, B, T, c.nHead(), c.nKvHead(), c.headDim(), c.ropeTheta());
                round(dQkv, N * c.qkvDim());
            }
            inputMatmulBackward(a, dIn, dQkv, u, p.w1(), g.w1(), g.b1(), c.qkvDim());
        } else {
            ops.matmulBackward(dAct, g.w2(), g.b2(), dF, a.act, p.w2(), N, c.dFf(), C, false);
            round(dAct, N * c.dFf());
            switch (c.activation()) {
                case GELU_TANH -> ops.geluBackward(dFc, a.fc, dAct, N * c.dFf(), false);
                case SWIGLU -> ops.swigluBackward(dFc, a.fc, dAct, N, c.dFf(), false);
            }
            round(dFc, N * c.fcDim());
            inputMatmulBackward(a, dIn, dFc, u, p.w1(), g.w1(), g.b1(), c.fcDim());
        }
        if (a.nb != null) {
            normBackward(dIn, true, dNorm, in, a.nbMean, a.nbRstd, p, g);
        }
    }

    /**
     * The block's first matmul (qkv or fc, OC outputs): its weight and bias gradients first written; its input
     * gradient first written into dNorm behind a pre-norm, else accumulated straight into the stream's dIn.
     */
    private void inputMatmulBackward(Block a, float[] dIn, float[] dout, float[] u, float[] w, float[] dw, float[] db,
            int OC) {
        if (a.nb != null) {
            ops.matmulBackward(dNorm, dw, db, dout, u, w, N, C, OC, false);
            round(dNorm, N * C);
        } else if (bf16) {
            // the matmul's input gradient is rounded on its own, then joins the stream's
            ops.matmulBackward(dNorm, dw, db, dout, u, w, N, C, OC, false);
            round(dNorm, N * C);
            ops.residualForward(dIn, dIn, 1f, dNorm, 1f, N * C);
        } else {
            ops.matmulBackward(dIn, null, null, dout, u, w, N, C, OC, true);
            ops.matmulBackward(null, dw, db, dout, u, w, N, C, OC, false);
        }
    }

    // ---- optimizer ----

    @Override
    public double gradNorm() {
        double s = 0;
        for (var t : grads.tensors()) {
            s += ops.sumSquares(t.data(), t.size());
        }
        return Math.sqrt(s);
    }

    @Override
    public void step(AdamW opt, double lr, double gradScale) {
        step++;
        for (var t : params.tensors()) {
            String n = t.name();
            ops.adamw(t.data(), grads.data(n), m.data(n), v.data(n), t.size(), (float) lr, (float) opt.beta1(),
                    (float) opt.beta2(), (float) opt.eps(), (float) opt.weightDecay(), step, (float) gradScale);
        }
    }

    // ---- accessors ----

    @Override
    public ModelConfig config() {
        return c;
    }

    @Override
    public int batch() {
        return B;
    }

    @Override
    public int seqLen() {
        return T;
    }

    @Override
    public long activationBytes() {
        long floats = 0;
        for (float[] a : h) {
            floats += a.length;
        }
        for (Block a : blocks) {
            floats += a.f.length + 4L * N + len(a.nb) + len(a.qkv) + len(a.att) + len(a.attState) + len(a.fc)
                    + len(a.act) + len(a.sum);
        }
        floats += lnf.length + 2L * N + logits.length + probs.length + losses.length;
        floats += dlogits.length + dlnf.length + dhA.length + dhB.length + dSum.length + dF.length + dNorm.length
                + dQkv.length + dAtt.length + dFc.length + dAct.length;
        return 4 * floats;
    }

    private static long len(float[] a) {
        return a == null ? 0 : a.length;
    }

    @Override
    public double[] residualGradNorms() {
        return streamGradNorms.clone();
    }

    @Override
    public float[] logits() {
        return logits;
    }

    /** Per-position losses (B,T) of the last forward. */
    public float[] losses() {
        return losses;
    }

    @Override
    public Params params() {
        return params;
    }

    @Override
    public Params grads() {
        return grads;
    }

    @Override
    public OptimizerState optimizerState() {
        return new OptimizerState(m, v, step);
    }

    @Override
    public void restore(Params p, OptimizerState state) {
        params.copyFrom(p);
        ops.parametersChanged(params);
        m.copyFrom(state.m());
        v.copyFrom(state.v());
        step = state.step();
    }

    @Override
    public Map<String, float[]> activations() {
        if (recompute || !haveForward) {
            return Collections.emptyMap();
        }
        Map<String, float[]> out = new LinkedHashMap<>();
        out.put("embed", h[0]);
        for (int k = 0; k < 2 * c.nLayer(); k++) {
            Block a = block(k);
            String p = "h." + (k / 2) + ".";
            String kind = a.attn ? "attn" : "mlp";
            if (a.nb != null) {
                out.put(p + (a.attn ? "ln1" : "ln2"), a.nb);
            }
            out.put(p + kind + "_out", a.f);
            out.put(p + (a.attn ? "resid_mid" : "resid_out"), h[k + 1]);
        }
        out.put("lnf", lnf);
        out.put("logits", logits);
        return out;
    }

    @Override
    public void close() {
        // heap buffers only
    }
}
