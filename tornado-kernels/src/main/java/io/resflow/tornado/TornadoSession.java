package io.resflow.tornado;

import io.resflow.engine.AdamW;
import io.resflow.engine.OptimizerState;
import io.resflow.engine.Session;
import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.model.Norm;
import io.resflow.model.ParamLayout;
import io.resflow.model.ParamSpec;
import io.resflow.model.Params;
import io.resflow.model.Residual;
import io.resflow.model.RuntimeFailure;
import io.resflow.model.Tensor;
import io.resflow.tornado.kernels.AdamWKernels;
import io.resflow.tornado.kernels.Args;
import io.resflow.tornado.kernels.AttentionKernels;
import io.resflow.tornado.kernels.Consts;
import io.resflow.tornado.kernels.CrossEntropyKernels;
import io.resflow.tornado.kernels.EmbeddingKernels;
import io.resflow.tornado.kernels.GeluKernels;
import io.resflow.tornado.kernels.LayerNormKernels;
import io.resflow.tornado.kernels.MatmulKernels;
import io.resflow.tornado.kernels.MemoryKernels;
import io.resflow.tornado.kernels.ResidualKernels;
import io.resflow.tornado.kernels.RmsNormKernels;
import io.resflow.tornado.kernels.RopeKernels;
import io.resflow.tornado.kernels.SumSquaresKernels;
import io.resflow.tornado.kernels.SwiGluKernels;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import uk.ac.manchester.tornado.api.DataRange;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.TornadoProfilerResult;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.ProfilerMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoOutOfMemoryException;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * A model living on one TornadoVM device. A training step runs as task graphs of one execution plan:
 * <pre>
 * embed                      tokens -> h_0
 * attn, mlp   (L times each) one graph per block kind, compiled once, run per layer with the layer index
 * head                       final norm, logits, softmax cross-entropy, mean loss -> host (4 bytes)
 * head_bwd                   dlogits, head matmul backward, final norm backward
 * mlp_bwd, attn_bwd (L times each)
 * embed_bwd                  token / position embedding gradients
 * grad_norm                  two-pass sum of squares -> host (4 bytes), only when asked
 * adamw                      one update over the flat parameter array
 * </pre>
 * plus {@code head_infer} (forward without a loss), {@code owner} (holds every shared buffer; runs once before each
 * graph's first execution) and {@code download} (copies tensors back on demand). Parameters, gradients, AdamW moments
 * and activations are sent once and stay on the device; per step only the tokens, the layer indices and AdamW's
 * eight hyper-parameters go in and the loss comes out ({@link #lastStepBytes()}).
 *
 * <p>Every execution is checked: a graph whose device kernel time reads 0 (it fell back to Java, or a launch failed)
 * throws {@link RuntimeFailure} naming it. The first execution of each graph, and every execution in strict mode,
 * also checks each task's own kernel time, which catches a single failed launch among working ones.
 *
 * <p>{@link #activations()} returns the same names as the reference engine (embed, h.i.ln1, h.i.attn_out,
 * h.i.resid_mid, h.i.ln2, h.i.mlp_out, h.i.resid_out, lnf, logits), copied from the device. The recompute option is
 * accepted and ignored: every activation is kept on the device.
 */
public final class TornadoSession implements Session {

    private static final boolean TRACE = Boolean.getBoolean("resflow.tornado.trace");
    private static final boolean PROFILE = Boolean.getBoolean("resflow.tornado.profile");

    private final ModelConfig c;
    private final TornadoDevice device;
    private final boolean strict;
    private final DeviceLayout d;
    private final LaunchShapes shapes;
    private final float skipAlpha;

    // shared device buffers (owned by the "owner" graph)
    private final FloatArray p;
    private final FloatArray g;
    private final FloatArray mom;
    private final FloatArray vel;
    private final FloatArray act;
    private final FloatArray dact;
    private final FloatArray consts;
    private final FloatArray partials;
    private final IntArray tok;
    private final IntArray zero;

    // per-call inputs and outputs
    private final IntArray tokIn;
    private final IntArray layerA = new IntArray(1);
    private final IntArray layerM = new IntArray(1);
    private final IntArray layerAB = new IntArray(1);
    private final IntArray layerMB = new IntArray(1);
    private final FloatArray lossOut = new FloatArray(1);
    private final FloatArray normOut = new FloatArray(1);
    private final FloatArray hyper = new FloatArray(AdamWKernels.SIZE);

    private final Map<String, Long> taskTime = new TreeMap<>();
    private final DeviceChecks checks;
    private TornadoExecutionPlan plan;
    private final Map<String, Integer> graphIndex = new LinkedHashMap<>();
    private final Set<String> executed = new HashSet<>();
    private int step;
    private boolean haveForward;
    private boolean haveTargets;
    private long stepIn;
    private long stepOut;
    private long[] lastStep = {0, 0};

    TornadoSession(ModelConfig config, Params init, int batch, int seqLen, TornadoDevice device, boolean strict) {
        if (seqLen > config.maxSeqLen()) {
            throw new BadInputException("seq_len " + seqLen + " is longer than the model's max_seq_len "
                    + config.maxSeqLen());
        }
        if (batch <= 0 || seqLen <= 0) {
            throw new BadInputException("batch and seq_len must be positive, got " + batch + " and " + seqLen);
        }
        init.checkAgainst(ParamLayout.of(config), "initial parameters");
        this.c = config;
        this.device = device;
        this.strict = strict;
        this.d = new DeviceLayout(config, batch, seqLen);
        this.shapes = new LaunchShapes(device);
        this.checks = new DeviceChecks(device.getDeviceName());
        this.skipAlpha = switch (config.residual()) {
            case NONE -> 0f;
            case DEEPNORM -> (float) Math.pow(2.0 * config.nLayer(), 0.25);
            default -> 1f;
        };
        checkFits(device, d);
        p = new FloatArray(d.paramCount);
        g = new FloatArray(d.paramCount);
        mom = new FloatArray(d.paramCount);
        vel = new FloatArray(d.paramCount);
        act = new FloatArray(d.actSize);
        dact = new FloatArray(d.dactSize);
        partials = new FloatArray(shapes.reduceGroups);
        tok = new IntArray(3 * d.N);
        tokIn = new IntArray(2 * d.N);
        zero = new IntArray(1);
        consts = buildConsts();
        toDevice(init, p);
        buildPlan();
    }

    /** Each large array is one device buffer: it must fit the device's largest single allocation. */
    private static void checkFits(TornadoDevice device, DeviceLayout d) {
        long max = device.getMaxAllocMemory();
        if (max <= 0) {
            return;
        }
        long[] sizes = {4L * d.paramCount, 4L * d.actSize, 4L * d.dactSize};
        String[] what = {"parameters", "activations", "activation gradients"};
        for (int i = 0; i < sizes.length; i++) {
            if (sizes[i] > max) {
                throw new BadInputException(String.format(Locale.ROOT,
                        "the %s need one device buffer of %.2f GiB but %s allows at most %.2f GiB per buffer; "
                                + "use a smaller batch, sequence or model", what[i], sizes[i] / 1073741824.0,
                        device.getDeviceName(), max / 1073741824.0));
            }
        }
    }

    private FloatArray buildConsts() {
        int half = c.headDim() / 2;
        int rope = c.learnedPositions() ? 0 : 2 * d.T * half;
        FloatArray k = new FloatArray(Consts.ROPE + Math.max(rope, 1));
        k.set(Consts.NORM_EPS, (float) c.normEps());
        k.set(Consts.SKIP_ALPHA, skipAlpha);
        k.set(Consts.ATTN_SCALE, (float) (1.0 / Math.sqrt(c.headDim())));
        k.set(Consts.INV_N, (float) (1.0 / d.N));
        if (!c.learnedPositions()) {
            for (int t = 0; t < d.T; t++) {
                for (int j = 0; j < half; j++) {
                    double angle = t * Math.pow(c.ropeTheta(), -2.0 * j / c.headDim());
                    k.set(Consts.ROPE + t * half + j, (float) Math.cos(angle));
                    k.set(Consts.ROPE + d.T * half + t * half + j, (float) Math.sin(angle));
                }
            }
        }
        return k;
    }

    // ---------------------------------------------------------------- graphs

    private void buildPlan() {
        List<GraphSpec> specs = new ArrayList<>();
        GraphSpec owner = new GraphSpec("owner", zero)
                .task("t0", shapes.single(), MemoryKernels::touch, p, g, tok, zero)
                .task("t1", shapes.single(), MemoryKernels::touch, mom, vel, tok, zero)
                .task("t2", shapes.single(), MemoryKernels::touch, act, dact, tok, zero)
                .task("t3", shapes.single(), MemoryKernels::touch, consts, partials, tok, zero);
        specs.add(owner);
        specs.add(embedGraph());
        specs.add(blockGraph("attn", true, layerA));
        specs.add(blockGraph("mlp", false, layerM));
        specs.add(headGraph("head", true));
        specs.add(headGraph("head_infer", false));
        specs.add(headBackwardGraph());
        specs.add(blockBackwardGraph("mlp_bwd", false, layerMB));
        specs.add(blockBackwardGraph("attn_bwd", true, layerAB));
        specs.add(embedBackwardGraph());
        specs.add(new GraphSpec("grad_norm", zero).toHost(normOut)
                .task("partials", shapes.rows(shapes.reduceGroups, shapes.reduceLocal), SumSquaresKernels::partials, g,
                        partials, Args.of(d.paramCount))
                .task("combine", shapes.single(), SumSquaresKernels::combine, partials, normOut,
                        Args.of(d.paramCount, shapes.reduceGroups)));
        specs.add(new GraphSpec("adamw", zero).everyExecution(hyper)
                .task("step", shapes.elements(d.paramCount), AdamWKernels::update, p, g, mom, vel, hyper,
                        Args.of(d.paramCount)));
        specs.add(new GraphSpec("download", zero).onDemand(p, g, mom, vel, act)
                .task("t0", shapes.single(), MemoryKernels::touch, p, g, tok, zero)
                .task("t1", shapes.single(), MemoryKernels::touch, mom, vel, tok, zero)
                .task("t2", shapes.single(), MemoryKernels::touch, act, dact, tok, zero));

        Set<Object> shared = Collections.newSetFromMap(new IdentityHashMap<>());
        shared.addAll(List.of(p, g, mom, vel, act, dact, consts, partials, tok, zero));
        GridScheduler grid = new GridScheduler();
        ImmutableTaskGraph[] graphs = new ImmutableTaskGraph[specs.size()];
        for (int i = 0; i < specs.size(); i++) {
            GraphSpec s = specs.get(i);
            graphs[i] = s.build(shared, specs, i == 0).snapshot();
            s.grids().forEach(grid::addWorkerGrid);
            graphIndex.put(s.name, i);
        }
        plan = new TornadoExecutionPlan(graphs);
        plan.withDevice(device).withGridScheduler(grid).withProfiler(ProfilerMode.SILENT);
    }

    private GraphSpec embedGraph() {
        return new GraphSpec("embed", zero).everyExecution(tokIn)
                .task("tokens", shapes.elements(d.N), EmbeddingKernels::loadTokens, tokIn, tok, Args.of(d.N))
                .task("embed", shapes.elements((long) d.N * d.C), EmbeddingKernels::forward, act, p, tok,
                        Args.of(0, d.param("wte"), d.param("wpe"), d.T, d.N, d.C));
    }

    /** Adds a norm forward over act with weights {@code name}.w/.b (layer-strided when {@code layer} varies). */
    private void normForward(GraphSpec s, String task, IntArray layer, int out, int stat, int in, int w, int b,
            int aStride, int pStride) {
        IntArray m = Args.of(out, stat, in, w, b, aStride, pStride, d.N, d.C);
        if (c.norm() == Norm.LAYERNORM) {
            s.task(task, shapes.rows(d.N), LayerNormKernels::forward, act, p, consts, layer, m);
        } else {
            s.task(task, shapes.rows(d.N), RmsNormKernels::forward, act, p, consts, layer, m);
        }
    }

    private void normBackward(GraphSpec s, String task, IntArray layer, int din, int dout, int in, int stat, int w,
            int b, int aStride, int pStride, boolean accumulate) {
        IntArray mi = Args.of(din, dout, in, stat, w, aStride, pStride, d.N, d.C, accumulate ? 1 : 0);
        IntArray mp = Args.of(w, b, dout, in, stat, aStride, pStride, d.N, d.C);
        if (c.norm() == Norm.LAYERNORM) {
            s.task(task + "_in", shapes.rows(d.N), LayerNormKernels::backwardInput, dact, act, p, layer, mi);
            s.task(task + "_w", shapes.elements(d.C), LayerNormKernels::backwardParams, g, dact, act, layer, mp);
        } else {
            s.task(task + "_in", shapes.rows(d.N), RmsNormKernels::backwardInput, dact, act, p, layer, mi);
            s.task(task + "_w", shapes.elements(d.C), RmsNormKernels::backwardParams, g, dact, act, layer, mp);
        }
    }

    private void matmul(GraphSpec s, String task, IntArray layer, int out, int in, int w, int b, int aStride,
            int pStride, int cIn, int cOut) {
        s.task(task, shapes.tiles(cOut, d.N, MatmulKernels.TILE, MatmulKernels.TILE), MatmulKernels::forward, act, p,
                layer, Args.of(out, in, w, b, aStride, pStride, d.N, cIn, cOut));
    }

    /**
     * dinp (dact) = or += dout W; dW = dout^T inp; db = sum dout. The products read both operands along the
     * reduction, so W, dout and inp are transposed into scratch first (see {@link MatmulKernels}).
     */
    private void matmulBackward(GraphSpec s, String task, IntArray layer, int din, boolean accumulate, int dout,
            int in, int w, int b, int aStride, int pStride, int cIn, int cOut) {
        int bl = MatmulKernels.BLOCK;
        int tile = MatmulKernels.TILE;
        s.task(task + "_wt", shapes.tiles(cIn, cOut, bl, bl), MatmulKernels::transposeWeight, dact, p, layer,
                Args.of(d.tW, w, pStride, cOut, cIn));
        s.task(task + "_in", shapes.tiles(cIn, d.N, tile, tile), MatmulKernels::backwardInput, dact,
                Args.of(din, dout, d.tW, d.N, cIn, cOut, accumulate ? 1 : 0));
        s.task(task + "_dt", shapes.tiles(cOut, d.N, bl, bl), MatmulKernels::transposeScratch, dact,
                Args.of(d.tDout, dout, 0, d.N, cOut));
        s.task(task + "_xt", shapes.tiles(cIn, d.N, bl, bl), MatmulKernels::transposeActivation, dact, act, layer,
                Args.of(d.tX, in, aStride, d.N, cIn));
        s.task(task + "_w", shapes.tiles(cIn, cOut, tile, tile), MatmulKernels::backwardWeight, g, dact, layer,
                Args.of(w, d.tDout, d.tX, pStride, d.N, cIn, cOut));
        if (b >= 0) {
            s.task(task + "_b", shapes.elements(cOut), MatmulKernels::backwardBias, g, dact, layer,
                    Args.of(b, dout, pStride, d.N, cOut));
        }
    }

    private int gateOffset(boolean attn) {
        return c.residual() == Residual.REZERO ? d.layerParam(attn ? "attn_alpha" : "mlp_alpha") : -1;
    }

    /** One sub-block (attention or MLP) of layer l = layer[0], mirroring the reference engine's forwardBlock. */
    private GraphSpec blockGraph(String name, boolean attn, IntArray layer) {
        GraphSpec s = new GraphSpec(name, zero).everyExecution(layer);
        Residual r = c.residual();
        int as = d.aStride;
        int ps = d.pStride;
        String ln = attn ? "ln1" : "ln2";
        int in = attn ? d.hA : d.hM;
        int out = attn ? d.hM : d.hA + as; // h_{k+1}: the MLP writes the next layer's slab
        int nb = attn ? d.nbA : d.nbM;
        int u = in;
        if (r.normBeforeBlock()) {
            normForward(s, "norm", layer, nb, attn ? d.nbStatsA : d.nbStatsM, in, d.layerParam(ln + ".w"),
                    d.layerParam(ln + ".b"), as, ps);
            u = nb;
        }
        int f = attn ? d.fA : d.fM;
        if (attn) {
            matmul(s, "qkv", layer, d.qkv, u, d.layerParam("qkv.w"), d.layerParam("qkv.b"), as, ps, d.C, d.qkvDim);
            if (!c.learnedPositions()) {
                s.task("rope", shapes.elements((long) d.N * (c.nHead() + c.nKvHead()) * (c.headDim() / 2)),
                        RopeKernels::apply, act, consts, layer, ropeArgs(d.qkv, as, 1));
            }
            s.task("attention", shapes.elements((long) d.B * c.nHead() * d.T), AttentionKernels::forward, act, consts,
                    layer, attentionArgs());
            matmul(s, "proj", layer, f, d.att, d.layerParam("attn_proj.w"), d.layerParam("attn_proj.b"), as, ps,
                    d.qDim, d.C);
        } else {
            matmul(s, "fc", layer, d.fc, u, d.layerParam("fc.w"), d.layerParam("fc.b"), as, ps, d.C, d.fcDim);
            switch (c.activation()) {
                case GELU_TANH -> s.task("gelu", shapes.elements((long) d.N * d.dFf), GeluKernels::forward, act, layer,
                        Args.of(d.actv, d.fc, as, d.N * d.dFf));
                case SWIGLU -> s.task("swiglu", shapes.elements((long) d.N * d.dFf), SwiGluKernels::forward, act,
                        layer, Args.of(d.actv, d.fc, as, d.N, d.dFf));
            }
            matmul(s, "proj", layer, f, d.actv, d.layerParam("mlp_proj.w"), d.layerParam("mlp_proj.b"), as, ps,
                    d.dFf, d.C);
        }
        int gate = gateOffset(attn);
        if (r.normAfterSum()) {
            int sum = attn ? d.sumA : d.sumM;
            s.task("join", shapes.elements((long) d.N * d.C), ResidualKernels::forward, act, p, consts, layer,
                    Args.of(sum, in, f, gate, as, ps, d.N * d.C));
            normForward(s, "post_norm", layer, out, attn ? d.outStatsA : d.outStatsM, sum, d.layerParam(ln + ".w"),
                    d.layerParam(ln + ".b"), as, ps);
        } else {
            s.task("join", shapes.elements((long) d.N * d.C), ResidualKernels::forward, act, p, consts, layer,
                    Args.of(out, in, f, gate, as, ps, d.N * d.C));
        }
        return s;
    }

    private IntArray ropeArgs(int off, int stride, int sign) {
        return Args.of(off, stride, d.N, d.T, c.nHead() + c.nKvHead(), c.headDim(), d.qkvDim, sign);
    }

    private IntArray attentionArgs() {
        return Args.of(d.att, d.probs, d.qkv, d.aStride, d.B, d.T, c.nHead(), c.nKvHead(), c.headDim(), -1, -1);
    }

    private IntArray attentionBackwardArgs() {
        return Args.of(d.dAtt, d.probs, d.qkv, d.aStride, d.B, d.T, c.nHead(), c.nKvHead(), c.headDim(), d.dS,
                d.dQkv);
    }

    private int headWeight() {
        return c.tieEmbeddings() ? d.param("wte") : d.param("lm_head");
    }

    private GraphSpec headGraph(String name, boolean loss) {
        GraphSpec s = new GraphSpec(name, zero);
        normForward(s, "norm", zero, d.lnf, d.lnfStats, d.hFinal, d.param("lnf.w"), d.param("lnf.b"), 0, 0);
        matmul(s, "logits", zero, d.logits, d.lnf, headWeight(), -1, 0, 0, d.C, d.V);
        if (loss) {
            IntArray m = Args.of(d.logits, d.ceProbs, d.losses, d.N, d.V, d.dLogits);
            s.toHost(lossOut)
                    .task("softmax", shapes.rows(d.N, shapes.reduceLocal), CrossEntropyKernels::forward, act, tok, m)
                    .task("mean", shapes.single(), CrossEntropyKernels::meanLoss, act, lossOut, consts, m);
        }
        return s;
    }

    private GraphSpec headBackwardGraph() {
        GraphSpec s = new GraphSpec("head_bwd", zero);
        s.task("dlogits", shapes.elements((long) d.N * d.V), CrossEntropyKernels::backward, dact, act, tok, consts,
                Args.of(d.logits, d.ceProbs, d.losses, d.N, d.V, d.dLogits));
        // the head weight's gradient is written (=) here; when tied, the embedding backward adds the scatter later
        matmulBackward(s, "logits", zero, d.dLnf, false, d.dLogits, d.lnf, headWeight(), -1, 0, 0, d.C, d.V);
        normBackward(s, "norm", zero, d.dA, d.dLnf, d.hFinal, d.lnfStats, d.param("lnf.w"), d.param("lnf.b"), 0, 0,
                false);
        if (!c.tieEmbeddings()) {
            s.task("zero_wte", shapes.elements((long) d.V * d.C), MemoryKernels::zero, g,
                    Args.of(d.param("wte"), d.V * d.C));
        }
        return s;
    }

    /**
     * Backward of one sub-block of layer l = layer[0], mirroring the reference engine's backwardBlock. The MLP blocks
     * read the stream gradient from dA and write the block input's gradient to dB, attention blocks the other way.
     */
    private GraphSpec blockBackwardGraph(String name, boolean attn, IntArray layer) {
        GraphSpec s = new GraphSpec(name, zero).everyExecution(layer);
        Residual r = c.residual();
        int as = d.aStride;
        int ps = d.pStride;
        String ln = attn ? "ln1" : "ln2";
        int dOut = attn ? d.dB : d.dA;
        int dIn = attn ? d.dA : d.dB;
        int in = attn ? d.hA : d.hM;
        int f = attn ? d.fA : d.fM;
        int dd = dOut;
        if (r.normAfterSum()) {
            int sum = attn ? d.sumA : d.sumM;
            normBackward(s, "post_norm", layer, d.dSum, dOut, sum, attn ? d.outStatsA : d.outStatsM,
                    d.layerParam(ln + ".w"), d.layerParam(ln + ".b"), as, ps, false);
            dd = d.dSum;
        }
        int gate = gateOffset(attn);
        s.task("join", shapes.elements((long) d.N * d.C), ResidualKernels::backward, dact, p, consts, layer,
                Args.of(dIn, d.dF, dd, gate, ps, d.N * d.C));
        if (gate >= 0) {
            s.task("gate", shapes.single(), ResidualKernels::gateGradient, g, dact, act, layer,
                    Args.of(gate, dd, f, as, ps, d.N * d.C));
        }
        boolean pre = r.normBeforeBlock();
        int u = pre ? (attn ? d.nbA : d.nbM) : in;
        int du = pre ? d.dNorm : dIn;
        if (attn) {
            matmulBackward(s, "proj", layer, d.dAtt, false, d.dF, d.att, d.layerParam("attn_proj.w"),
                    d.layerParam("attn_proj.b"), as, ps, d.qDim, d.C);
            IntArray m = attentionBackwardArgs();
            s.task("attention_q", shapes.elements((long) d.B * c.nHead() * d.T), AttentionKernels::backwardQuery, dact,
                    act, consts, layer, m);
            s.task("attention_kv", shapes.elements((long) d.B * c.nKvHead() * d.T * c.headDim()),
                    AttentionKernels::backwardKeyValue, dact, act, layer, m);
            if (!c.learnedPositions()) {
                s.task("rope", shapes.elements((long) d.N * (c.nHead() + c.nKvHead()) * (c.headDim() / 2)),
                        RopeKernels::apply, dact, consts, zero, ropeArgs(d.dQkv, 0, -1));
            }
            matmulBackward(s, "qkv", layer, du, !pre, d.dQkv, u, d.layerParam("qkv.w"), d.layerParam("qkv.b"), as, ps,
                    d.C, d.qkvDim);
        } else {
            matmulBackward(s, "proj", layer, d.dAct, false, d.dF, d.actv, d.layerParam("mlp_proj.w"),
                    d.layerParam("mlp_proj.b"), as, ps, d.dFf, d.C);
            switch (c.activation()) {
                case GELU_TANH -> s.task("gelu", shapes.elements((long) d.N * d.dFf), GeluKernels::backward, dact, act,
                        layer, Args.of(d.dFc, d.dAct, d.fc, as, d.N * d.dFf));
                case SWIGLU -> s.task("swiglu", shapes.elements((long) d.N * d.dFf), SwiGluKernels::backward, dact,
                        act, layer, Args.of(d.dFc, d.dAct, d.fc, as, d.N, d.dFf));
            }
            matmulBackward(s, "fc", layer, du, !pre, d.dFc, u, d.layerParam("fc.w"), d.layerParam("fc.b"), as, ps,
                    d.C, d.fcDim);
        }
        if (pre) {
            normBackward(s, "norm", layer, dIn, d.dNorm, in, attn ? d.nbStatsA : d.nbStatsM, d.layerParam(ln + ".w"),
                    d.layerParam(ln + ".b"), as, ps, true);
        }
        return s;
    }

    private GraphSpec embedBackwardGraph() {
        GraphSpec s = new GraphSpec("embed_bwd", zero)
                .task("tokens", shapes.elements((long) d.N * d.C), EmbeddingKernels::backwardTokens, g, dact, tok,
                        Args.of(d.param("wte"), d.dA, d.N, d.C));
        if (c.learnedPositions()) {
            s.task("positions", shapes.elements((long) d.T * d.C), EmbeddingKernels::backwardPositions, g, dact,
                    Args.of(d.param("wpe"), d.dA, d.B, d.T, d.C));
        }
        return s;
    }

    // ---------------------------------------------------------------- execution

    private TornadoExecutionResult run(String graph) {
        int index = graphIndex.get(graph);
        boolean first = executed.add(graph);
        if (first && index != 0) {
            // link this graph's buffers to the owner's: TornadoVM links from the graph executed just before
            run("owner");
        }
        if (TRACE) {
            System.err.println("[resflow-tornado] execute " + graph + (first ? " (first)" : ""));
        }
        TornadoExecutionResult result;
        try {
            result = plan.withGraph(index).execute();
        } catch (TornadoOutOfMemoryException e) {
            throw new BadInputException(String.format(Locale.ROOT,
                    "the model does not fit the device memory TornadoVM allows on %s (%s, %.1f GiB of buffers): use a "
                            + "smaller batch, sequence or model, or raise -Dtornado.device.memory (default 4GB)",
                    device.getDeviceName(),
                    e.getMessage().replaceAll("\\u001B\\[[0-9;]*m", "").replaceAll("\\s+", " ").strip(),
                    4.0 * ((long) d.paramCount * 4 + d.actSize + d.dactSize) / 1073741824.0), e);
        } catch (RuntimeException e) {
            throw new RuntimeFailure("TornadoVM graph '" + graph + "' failed on " + device.getDeviceName() + ": " + e,
                    e);
        }
        TornadoProfilerResult prof = result.getProfilerResult();
        Map<String, Long> times = checks.requireRan(graph, prof, first || strict || PROFILE);
        if (PROFILE) {
            times.forEach((task, ns) -> taskTime.merge(task, ns, Long::sum));
        }
        stepIn += prof.getTotalBytesCopyIn();
        stepOut += prof.getTotalBytesCopyOut();
        return result;
    }

    @Override
    public double forward(int[] inputs, int[] targets) {
        checkTokens(inputs, "input");
        haveTargets = targets != null;
        if (haveTargets) {
            checkTokens(targets, "target");
        }
        stepIn = 0;
        stepOut = 0;
        for (int i = 0; i < d.N; i++) {
            tokIn.set(i, inputs[i]);
            tokIn.set(d.N + i, haveTargets ? targets[i] : 0);
        }
        run("embed");
        for (int l = 0; l < d.L; l++) {
            layerA.set(0, l);
            run("attn");
            layerM.set(0, l);
            run("mlp");
        }
        haveForward = true;
        if (!haveTargets) {
            run("head_infer");
            return Double.NaN;
        }
        run("head");
        double loss = lossOut.get(0);
        if (!Double.isFinite(loss)) {
            throw new RuntimeFailure("loss is " + loss + " on device " + device.getDeviceName());
        }
        return loss;
    }

    private void checkTokens(int[] tokens, String what) {
        if (tokens.length != d.N) {
            throw new BadInputException(what + " tokens: expected B*T = " + d.N + " ids, got " + tokens.length);
        }
        for (int i = 0; i < d.N; i++) {
            if (tokens[i] < 0 || tokens[i] >= d.V) {
                throw new BadInputException(what + " token at position " + i + " is " + tokens[i]
                        + ", outside the vocabulary [0, " + d.V + ")");
            }
        }
    }

    @Override
    public void backward() {
        if (!haveForward || !haveTargets) {
            throw new IllegalStateException("backward() needs a forward() with targets first");
        }
        run("head_bwd");
        for (int l = d.L - 1; l >= 0; l--) {
            layerMB.set(0, l);
            run("mlp_bwd");
            layerAB.set(0, l);
            run("attn_bwd");
        }
        run("embed_bwd");
    }

    @Override
    public double gradNorm() {
        run("grad_norm");
        return Math.sqrt(normOut.get(0));
    }

    @Override
    public void step(AdamW opt, double lr, double gradScale) {
        step++;
        hyper.set(AdamWKernels.LR, (float) lr);
        hyper.set(AdamWKernels.B1, (float) opt.beta1());
        hyper.set(AdamWKernels.B2, (float) opt.beta2());
        hyper.set(AdamWKernels.EPS, (float) opt.eps());
        hyper.set(AdamWKernels.WD, (float) opt.weightDecay());
        hyper.set(AdamWKernels.SCALE, (float) gradScale);
        hyper.set(AdamWKernels.C1, (float) (1.0 - Math.pow((float) opt.beta1(), step)));
        hyper.set(AdamWKernels.C2, (float) (1.0 - Math.pow((float) opt.beta2(), step)));
        run("adamw");
        lastStep = new long[] {stepIn, stepOut};
    }

    /**
     * Bytes copied host to device and device to host by the last training step (from the forward that began it through
     * its AdamW update), as TornadoVM's profiler counts them: {in, out}.
     */
    public long[] lastStepBytes() {
        return lastStep.clone();
    }

    /** Bytes copied {in, out} since the last forward began (e.g. by a forward-only call). */
    public long[] bytesSinceForward() {
        return new long[] {stepIn, stepOut};
    }

    /** Device this session runs on. */
    public String deviceName() {
        return device.getDeviceName();
    }

    // ---------------------------------------------------------------- copies back

    private TornadoExecutionResult download() {
        long in = stepIn;
        long out = stepOut;
        TornadoExecutionResult r = run("download");
        stepIn = in;
        stepOut = out;
        return r;
    }

    private Params fromDevice(FloatArray src) {
        download().transferToHost(src);
        Params out = new Params();
        Map<String, Integer> offsets = d.paramOffset;
        for (ParamSpec s : ParamLayout.of(c).specs()) {
            Tensor t = Tensor.zeros(s.name(), s.shape());
            float[] data = t.data();
            int off = offsets.get(s.name());
            for (int i = 0; i < data.length; i++) {
                data[i] = src.get(off + i);
            }
            out.put(t);
        }
        return out;
    }

    private void toDevice(Params src, FloatArray dst) {
        for (var e : d.paramOffset.entrySet()) {
            float[] data = src.data(e.getKey());
            int off = e.getValue();
            for (int i = 0; i < data.length; i++) {
                dst.set(off + i, data[i]);
            }
        }
    }

    @Override
    public float[] logits() {
        if (!haveForward) {
            return new float[Math.multiplyExact(d.N, d.V)];
        }
        download().transferToHost(new DataRange(act).withOffset(d.logits).withSize((long) d.N * d.V));
        return copy(act, d.logits, d.N * d.V);
    }

    private static float[] copy(FloatArray a, int off, int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = a.get(off + i);
        }
        return out;
    }

    @Override
    public Params params() {
        return fromDevice(p);
    }

    @Override
    public Params grads() {
        return fromDevice(g);
    }

    @Override
    public OptimizerState optimizerState() {
        return new OptimizerState(fromDevice(mom), fromDevice(vel), step);
    }

    @Override
    public void restore(Params params, OptimizerState state) {
        params.checkAgainst(ParamLayout.of(c), "restored parameters");
        toDevice(params, p);
        toDevice(state.m(), mom);
        toDevice(state.v(), vel);
        step = state.step();
        haveForward = false;
        // FIRST_EXECUTION buffers are not re-sent by a live plan: start a new one that uploads the new values
        closePlan();
        graphIndex.clear();
        executed.clear();
        buildPlan();
    }

    @Override
    public Map<String, float[]> activations() {
        if (!haveForward) {
            return Collections.emptyMap();
        }
        // always through a DataRange: after a partial copy (logits()), a plain transferToHost(act) copies nothing more
        download().transferToHost(new DataRange(act).withOffset(0).withSize(d.actSize));
        int nc = d.N * d.C;
        Map<String, float[]> out = new LinkedHashMap<>();
        out.put("embed", copy(act, d.hA, nc));
        Residual r = c.residual();
        for (int l = 0; l < d.L; l++) {
            int slab = l * d.aStride;
            String pre = "h." + l + ".";
            if (r.normBeforeBlock()) {
                out.put(pre + "ln1", copy(act, slab + d.nbA, nc));
            }
            out.put(pre + "attn_out", copy(act, slab + d.fA, nc));
            out.put(pre + "resid_mid", copy(act, slab + d.hM, nc));
            if (r.normBeforeBlock()) {
                out.put(pre + "ln2", copy(act, slab + d.nbM, nc));
            }
            out.put(pre + "mlp_out", copy(act, slab + d.fM, nc));
            out.put(pre + "resid_out", copy(act, slab + d.aStride + d.hA, nc));
        }
        out.put("lnf", copy(act, d.lnf, nc));
        out.put("logits", copy(act, d.logits, d.N * d.V));
        return out;
    }

    // ---------------------------------------------------------------- accessors

    @Override
    public ModelConfig config() {
        return c;
    }

    @Override
    public int batch() {
        return d.B;
    }

    @Override
    public int seqLen() {
        return d.T;
    }

    private void closePlan() {
        if (plan != null) {
            try {
                plan.close();
            } catch (Exception e) {
                throw new RuntimeFailure("closing the TornadoVM plan failed: " + e, e);
            } finally {
                plan = null;
            }
        }
    }

    /** Device kernel time per task summed over this session's executions (with -Dresflow.tornado.profile=true). */
    public Map<String, Long> taskKernelTimes() {
        return Collections.unmodifiableMap(taskTime);
    }

    @Override
    public void close() {
        if (PROFILE && !taskTime.isEmpty()) {
            long total = taskTime.values().stream().mapToLong(Long::longValue).sum();
            System.out.println("[resflow-tornado] device kernel time per task (all executions):");
            taskTime.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                    .forEach(e -> System.out.printf(Locale.ROOT, "  %-28s %9.1f ms %5.1f%%%n", e.getKey(),
                            e.getValue() / 1e6, 100.0 * e.getValue() / total));
        }
        closePlan();
    }
}
