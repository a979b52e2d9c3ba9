package io.resflow.tornado;

import io.resflow.model.ModelConfig;
import io.resflow.model.Norm;
import io.resflow.tornado.kernels.AdamWKernels;
import io.resflow.tornado.kernels.Args;
import io.resflow.tornado.kernels.Bf16Kernels;
import io.resflow.tornado.kernels.AttentionKernels;
import io.resflow.tornado.kernels.CrossEntropyKernels;
import io.resflow.tornado.kernels.DecodeAttentionKernels;
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
import io.resflow.tornado.kernels.gpu.FlashAttention;
import io.resflow.tornado.kernels.gpu.LayerNormColumns;
import io.resflow.tornado.kernels.gpu.MatmulTiled;
import io.resflow.tornado.kernels.gpu.RmsNormColumns;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The one place that says which kernel implements each op: every method adds one op's task(s) to a graph, with the
 * kernel, its launch shape ({@link LaunchShapes}) and its argument array ({@link Args}, the kernel's own index
 * constants). The graphs ({@link TrainingGraphs}) say what runs in which order on which tensors and never name a
 * kernel class. Two kernel sets: the CPU shapes ({@code kernels}) and, where {@link LaunchShapes} says so, the GPU
 * shapes ({@code kernels.gpu}) for the linear layers, attention and the norms' parameter gradients; every other op
 * has one kernel (elementwise, or a row reduction in local memory) that serves both.
 *
 * <p>Offsets are those of {@link DeviceLayout}; {@code layer} is the 1-int array holding the layer index l, and
 * {@code aStride} / {@code pStride} the distances between layers in act and in p, so a kernel reads tensor x of layer
 * l at {@code x + l * stride} (0 for tensors that are not per layer, with {@code layer} = zero).
 */
final class DeviceOps {
    private final ModelConfig c;
    private final DeviceLayout d;
    private final DeviceBuffers b;
    private final LaunchShapes shapes;

    DeviceOps(ModelConfig c, DeviceBuffers b, LaunchShapes shapes) {
        this.c = c;
        this.d = b.d;
        this.b = b;
        this.shapes = shapes;
    }

    LaunchShapes shapes() {
        return shapes;
    }

    // ---------------------------------------------------------------- embedding

    /** Host tokens (inputs | targets) into the device token array, with each input's first occurrence. */
    void loadTokens(GraphSpec s, String task, IntArray tokIn) {
        s.task(task, shapes.elements(d.N), EmbeddingKernels::loadTokens, tokIn, b.tok, Args.of(d.N));
    }

    /** act[out] (N,C) = wte[token] (+ wpe[position]). */
    void embed(GraphSpec s, String task, int out) {
        s.task(task, shapes.elements((long) d.N * d.C), EmbeddingKernels::forward, b.act, b.p, b.tok,
                Args.of(out, d.param("wte"), d.param("wpe"), d.T, d.N, d.C));
    }

    /** g[wte] += scatter of dact[dout] by token (deterministic, no atomics). */
    void embedBackwardTokens(GraphSpec s, String task, int dout) {
        s.task(task, shapes.elements((long) d.N * d.C), EmbeddingKernels::backwardTokens, b.g, b.dact, b.tok,
                Args.of(d.param("wte"), dout, d.N, d.C));
    }

    /** g[wpe] = sum over the batch of dact[dout]. */
    void embedBackwardPositions(GraphSpec s, String task, int dout) {
        s.task(task, shapes.elements((long) d.T * d.C), EmbeddingKernels::backwardPositions, b.g, b.dact,
                Args.of(d.param("wpe"), dout, d.B, d.T, d.C));
    }

    // ---------------------------------------------------------------- norms

    /** act[out] = norm(act[in]) with weights w (and bias b for LayerNorm); statistics to act[stat]. */
    void normForward(GraphSpec s, String task, IntArray layer, int out, int stat, int in, int w, int bias,
            int aStride, int pStride) {
        IntArray m = Args.of(out, stat, in, w, bias, aStride, pStride, d.N, d.C);
        if (c.norm() == Norm.LAYERNORM) {
            s.task(task, shapes.rows(d.N), LayerNormKernels::forward, b.act, b.p, b.consts, layer, m);
        } else {
            s.task(task, shapes.rows(d.N), RmsNormKernels::forward, b.act, b.p, b.consts, layer, m);
        }
    }

    /** dact[din] = or += the input gradient of the norm; g[w], g[b] = its parameter gradients. */
    void normBackward(GraphSpec s, String task, IntArray layer, int din, int dout, int in, int stat, int w, int bias,
            int aStride, int pStride, boolean accumulate) {
        IntArray mi = Args.of(din, dout, in, stat, w, aStride, pStride, d.N, d.C, accumulate ? 1 : 0);
        IntArray mp = Args.of(w, bias, dout, in, stat, aStride, pStride, d.N, d.C);
        if (c.norm() == Norm.LAYERNORM) {
            s.task(task + "_in", shapes.rows(d.N), LayerNormKernels::backwardInput, b.dact, b.act, b.p, layer, mi);
            if (shapes.gpu) {
                s.task(task + "_w", shapes.columns(d.C), LayerNormColumns::backwardParams, b.g, b.dact, b.act, layer,
                        mp);
            } else {
                s.task(task + "_w", shapes.elements(d.C), LayerNormKernels::backwardParams, b.g, b.dact, b.act, layer,
                        mp);
            }
        } else if (shapes.gpu) {
            s.task(task + "_in", shapes.rows(d.N), RmsNormKernels::backwardInput, b.dact, b.act, b.p, layer, mi);
            s.task(task + "_w", shapes.columns(d.C), RmsNormColumns::backwardParams, b.g, b.dact, b.act, layer, mp);
        } else {
            s.task(task + "_in", shapes.rows(d.N), RmsNormKernels::backwardInput, b.dact, b.act, b.p, layer, mi);
            s.task(task + "_w", shapes.elements(d.C), RmsNormKernels::backwardParams, b.g, b.dact, b.act, layer, mp);
        }
    }

    // ---------------------------------------------------------------- linear layers

    /** act[out] (N,cOut) = act[in] (N,cIn) W^T + b (b < 0: no bias); in bf16 W and b from the 16-bit copy. */
    void matmul(GraphSpec s, String task, IntArray layer, int out, int in, int w, int bias, int aStride, int pStride,
            int cIn, int cOut) {
        if (shapes.tiledMatmul()) {
            // C = out (N,cOut), A(i,k) = inp[i][k], B(k,j) = W[j][k]
            IntArray m = tiled(out, aStride, in, aStride, w, pStride, bias, d.N, cOut, cIn, cIn, 1, 1, cIn, false);
            if (bf16()) {
                s.task(task, shapes.matmulTiles(d.N, cOut), MatmulTiled::productBf16, b.act, b.p16, b.pow2, layer, m);
            } else {
                s.task(task, shapes.matmulTiles(d.N, cOut), MatmulTiled::product, b.act, b.p, layer, m);
            }
            return;
        }
        IntArray m = Args.of(out, in, w, bias, aStride, pStride, d.N, cIn, cOut);
        if (bf16()) {
            s.task(task, shapes.tiles(cOut, d.N, MatmulKernels.TILE, MatmulKernels.TILE), MatmulKernels::forwardBf16,
                    b.act, b.p16, b.pow2, layer, m);
        } else {
            s.task(task, shapes.tiles(cOut, d.N, MatmulKernels.TILE, MatmulKernels.TILE), MatmulKernels::forward,
                    b.act, b.p, layer, m);
        }
    }

    /**
     * dinp (dact) = or += dout W; dW = dout^T inp; db = sum dout. The products read both operands along the
     * reduction, so W, dout and inp are transposed into scratch first (see {@link MatmulKernels}). In bf16, W is read
     * from the 16-bit copy (widened into the transposed scratch, or into the tiled kernel's local tile).
     */
    void matmulBackward(GraphSpec s, String task, IntArray layer, int din, boolean accumulate, int dout, int in, int w,
            int bias, int aStride, int pStride, int cIn, int cOut) {
        if (shapes.tiledMatmul()) {
            // dinp (N,cIn) (+)= dout (N,cOut) W: A(i,k) = dout[i][k], B(k,j) = W[k][j]
            IntArray mi = tiled(din, 0, dout, 0, w, pStride, -1, d.N, cIn, cOut, cOut, 1, cIn, 1, accumulate);
            if (bf16()) {
                s.task(task + "_in", shapes.matmulTiles(d.N, cIn), MatmulTiled::productBf16, b.dact, b.p16, b.pow2,
                        layer, mi);
            } else {
                s.task(task + "_in", shapes.matmulTiles(d.N, cIn), MatmulTiled::product, b.dact, b.p, layer, mi);
            }
            // dW (cOut,cIn) = dout^T inp: A(i,k) = dout[k][i], B(k,j) = inp[k][j]
            s.task(task + "_w", shapes.matmulTiles(cOut, cIn), MatmulTiled::weightGradient, b.g, b.dact, b.act, layer,
                    tiled(w, pStride, dout, 0, in, aStride, -1, cOut, cIn, d.N, 1, cOut, cIn, 1, false));
            if (bias >= 0) {
                s.task(task + "_b", shapes.columns(cOut), MatmulTiled::biasGradient, b.g, b.dact, layer,
                        Args.of(bias, pStride, dout, d.N, cOut));
            }
            return;
        }
        int bl = MatmulKernels.BLOCK;
        int tile = MatmulKernels.TILE;
        if (bf16()) {
            s.task(task + "_wt", shapes.tiles(cIn, cOut, bl, bl), MatmulKernels::transposeWeightBf16, b.dact, b.p16,
                    b.pow2, layer, Args.of(d.tW, w, pStride, cOut, cIn));
        } else {
            s.task(task + "_wt", shapes.tiles(cIn, cOut, bl, bl), MatmulKernels::transposeWeight, b.dact, b.p, layer,
                    Args.of(d.tW, w, pStride, cOut, cIn));
        }
        s.task(task + "_in", shapes.tiles(cIn, d.N, tile, tile), MatmulKernels::backwardInput, b.dact,
                Args.of(din, dout, d.tW, d.N, cIn, cOut, accumulate ? 1 : 0));
        s.task(task + "_dt", shapes.tiles(cOut, d.N, bl, bl), MatmulKernels::transposeScratch, b.dact,
                Args.of(d.tDout, dout, 0, d.N, cOut));
        s.task(task + "_xt", shapes.tiles(cIn, d.N, bl, bl), MatmulKernels::transposeActivation, b.dact, b.act, layer,
                Args.of(d.tX, in, aStride, d.N, cIn));
        s.task(task + "_w", shapes.tiles(cIn, cOut, tile, tile), MatmulKernels::backwardWeight, b.g, b.dact, layer,
                Args.of(w, d.tDout, d.tX, pStride, d.N, cIn, cOut));
        if (bias >= 0) {
            s.task(task + "_b", shapes.elements(cOut), MatmulKernels::backwardBias, b.g, b.dact, layer,
                    Args.of(bias, dout, pStride, d.N, cOut));
        }
    }

    /** The argument array of {@link MatmulTiled#product} / {@link MatmulTiled#weightGradient}. */
    private static IntArray tiled(int cOff, int cStride, int aOff, int aStride, int bOff, int bStride, int bias,
            int rows, int cols, int depth, int sai, int sak, int sbk, int sbj, boolean accumulate) {
        return Args.of(cOff, cStride, aOff, aStride, bOff, bStride, bias, rows, cols, depth, sai, sak, sbk, sbj,
                accumulate ? 1 : 0);
    }

    // ---------------------------------------------------------------- attention

    private IntArray ropeArgs(int off, int stride, int sign) {
        return Args.of(off, stride, d.N, d.T, c.nHead() + c.nKvHead(), c.headDim(), d.qkvDim, sign);
    }

    private long ropeWork() {
        return (long) d.N * (c.nHead() + c.nKvHead()) * (c.headDim() / 2);
    }

    /** Rotates the q and k heads of act[qkv] in place (RoPE). */
    void ropeForward(GraphSpec s, String task, IntArray layer, int qkv, int aStride) {
        s.task(task, shapes.elements(ropeWork()), RopeKernels::apply, b.act, b.consts, layer,
                ropeArgs(qkv, aStride, 1));
    }

    /** Rotates the q and k gradients of dact[dqkv] back (RoPE's transpose). */
    void ropeBackward(GraphSpec s, String task, int dqkv) {
        s.task(task, shapes.elements(ropeWork()), RopeKernels::apply, b.dact, b.consts, b.zero,
                ropeArgs(dqkv, 0, -1));
    }

    /** Causal attention: act[att] and act[state] (P, or with flash attention the log-sum-exp) from act[qkv]. */
    void attention(GraphSpec s, String task, IntArray layer, int att, int probs, int qkv, int aStride) {
        if (d.flashAttention) {
            s.task(task, shapes.flash(flashGroups(c.nHead())), FlashAttention::forward, b.act, b.consts, layer,
                    flashArgs(att, probs, qkv, aStride, -1, -1, -1), c.headDim());
            return;
        }
        s.task(task, shapes.elements((long) d.B * c.nHead() * d.T), AttentionKernels::forward, b.act, b.consts, layer,
                Args.of(att, probs, qkv, aStride, d.B, d.T, c.nHead(), c.nKvHead(), c.headDim(), -1, -1));
    }

    /**
     * dact[dqkv] from dact[datt] and the forward's act[att], act[state], act[qkv] (dact[ds]: score gradients, or with
     * flash attention the row sums D = datt . att).
     */
    void attentionBackward(GraphSpec s, String task, IntArray layer, int datt, int att, int probs, int qkv,
            int aStride, int ds, int dqkv) {
        if (d.flashAttention) {
            IntArray m = flashArgs(att, probs, qkv, aStride, datt, ds, dqkv);
            s.task(task + "_d", shapes.elements((long) d.B * c.nHead() * d.T), FlashAttention::backwardDelta, b.dact,
                    b.act, layer, m);
            s.task(task + "_q", shapes.flash(flashGroups(c.nHead())), FlashAttention::backwardQuery, b.dact, b.act,
                    b.consts, layer, m, c.headDim());
            s.task(task + "_kv", shapes.flash(flashGroups(c.nKvHead())), FlashAttention::backwardKeyValue, b.dact,
                    b.act, b.consts, layer, m, c.headDim());
            return;
        }
        IntArray m = Args.of(datt, probs, qkv, aStride, d.B, d.T, c.nHead(), c.nKvHead(), c.headDim(), ds, dqkv);
        s.task(task + "_q", shapes.elements((long) d.B * c.nHead() * d.T), AttentionKernels::backwardQuery, b.dact,
                b.act, b.consts, layer, m);
        s.task(task + "_kv", shapes.elements((long) d.B * c.nKvHead() * d.T * c.headDim()),
                AttentionKernels::backwardKeyValue, b.dact, b.act, layer, m);
    }

    /** Work-groups of a flash-attention kernel over {@code heads} heads: B x heads x ceil(T / R). */
    private long flashGroups(int heads) {
        return (long) d.B * heads * ((d.T + shapes.flashRows - 1) / shapes.flashRows);
    }

    private IntArray flashArgs(int att, int lse, int qkv, int aStride, int dout, int delta, int dqkv) {
        return Args.of(att, lse, qkv, aStride, d.B, d.T, c.nHead(), c.nKvHead(), c.headDim(), dout, delta, dqkv);
    }

    // ---------------------------------------------------------------- MLP activation

    /** act[out] (N,dFf) = GELU(act[in]) or SwiGLU(act[in] (N,2 dFf)), as the config says. */
    void activation(GraphSpec s, String task, IntArray layer, int out, int in, int aStride) {
        switch (c.activation()) {
            case GELU_TANH -> s.task(task, shapes.elements((long) d.N * d.dFf), GeluKernels::forward, b.act, layer,
                    Args.of(out, in, aStride, d.N * d.dFf));
            case SWIGLU -> s.task(task, shapes.elements((long) d.N * d.dFf), SwiGluKernels::forward, b.act, layer,
                    Args.of(out, in, aStride, d.N, d.dFf));
        }
    }

    /** dact[din] = the activation's input gradient from dact[dout] and the forward's act[in]. */
    void activationBackward(GraphSpec s, String task, IntArray layer, int din, int dout, int in, int aStride) {
        switch (c.activation()) {
            case GELU_TANH -> s.task(task, shapes.elements((long) d.N * d.dFf), GeluKernels::backward, b.dact, b.act,
                    layer, Args.of(din, dout, in, aStride, d.N * d.dFf));
            case SWIGLU -> s.task(task, shapes.elements((long) d.N * d.dFf), SwiGluKernels::backward, b.dact, b.act,
                    layer, Args.of(din, dout, in, aStride, d.N, d.dFf));
        }
    }

    // ---------------------------------------------------------------- residual join

    /** act[out] = alpha act[skip] + gate act[branch] (gate < 0: 1, else ReZero's scalar in p). */
    void join(GraphSpec s, String task, IntArray layer, int out, int skip, int branch, int gate, int aStride,
            int pStride) {
        s.task(task, shapes.elements((long) d.N * d.C), ResidualKernels::forward, b.act, b.p, b.consts, layer,
                Args.of(out, skip, branch, gate, aStride, pStride, d.N * d.C));
    }

    /** dact[dskip] = alpha dact[dout], dact[dbranch] = gate dact[dout]. */
    void joinBackward(GraphSpec s, String task, IntArray layer, int dskip, int dbranch, int dout, int gate,
            int pStride) {
        s.task(task, shapes.elements((long) d.N * d.C), ResidualKernels::backward, b.dact, b.p, b.consts, layer,
                Args.of(dskip, dbranch, dout, gate, pStride, d.N * d.C));
    }

    /** g[gate] = sum(dact[dout] act[branch]) (ReZero). */
    void gateGradient(GraphSpec s, String task, IntArray layer, int gate, int dout, int branch, int aStride,
            int pStride) {
        s.task(task, shapes.single(), ResidualKernels::gateGradient, b.g, b.dact, b.act, layer,
                Args.of(gate, dout, branch, aStride, pStride, d.N * d.C));
    }

    // ---------------------------------------------------------------- loss

    private IntArray lossArgs() {
        return Args.of(d.logits, d.ceProbs, d.losses, d.N, d.V, d.dLogits);
    }

    /** Softmax cross-entropy of act[logits] against the targets (task), and its mean into lossOut (meanTask). */
    void crossEntropy(GraphSpec s, String task, String meanTask, FloatArray lossOut) {
        IntArray m = lossArgs();
        s.task(task, shapes.rows(d.N, shapes.reduceLocal), CrossEntropyKernels::forward, b.act, b.tok, m)
                .task(meanTask, shapes.single(), CrossEntropyKernels::meanLoss, b.act, lossOut, b.consts, m);
    }

    /** dact[dLogits] = (probs - onehot) / N. */
    void crossEntropyBackward(GraphSpec s, String task) {
        s.task(task, shapes.elements((long) d.N * d.V), CrossEntropyKernels::backward, b.dact, b.act, b.tok, b.consts,
                lossArgs());
    }

    // ---------------------------------------------------------------- whole-array ops

    /** act[dst + l dstStride ..] = act[src + l srcStride ..], N*C floats (a residual-stream tensor). */
    void copyStream(GraphSpec s, String task, IntArray layer, int dst, int dstStride, int src, int srcStride) {
        s.task(task, shapes.elements((long) d.N * d.C), MemoryKernels::copy, b.act, layer,
                Args.of(dst, dstStride, src, srcStride, d.N * d.C));
    }

    /** g = src (every parameter's gradient, flat), e.g. gradients averaged over data-parallel ranks. */
    void uploadGradients(GraphSpec s, FloatArray src) {
        s.task("copy_in", shapes.elements(d.paramCount), MemoryKernels::copyIn, b.g, src, Args.of(d.paramCount));
    }

    /** g[off .. off+n) = 0. */
    void zeroGrad(GraphSpec s, String task, int off, int n) {
        s.task(task, shapes.elements(n), MemoryKernels::zero, b.g, Args.of(off, n));
    }

    /** The sum of squares of every gradient into {@code out} (two passes through {@code partials}). */
    void sumSquares(GraphSpec s, FloatArray out) {
        s.task("partials", shapes.rows(shapes.reduceGroups, shapes.reduceLocal), SumSquaresKernels::partials, b.g,
                b.partials, Args.of(d.paramCount))
                .task("combine", shapes.single(), SumSquaresKernels::combine, b.partials, out,
                        Args.of(d.paramCount, shapes.reduceGroups));
    }

    /** One AdamW update of every parameter; lr, betas, eps, wd, gradient scale and bias corrections in hyper. */
    void adamw(GraphSpec s, String task, FloatArray hyper) {
        s.task(task, shapes.elements(d.paramCount), AdamWKernels::update, b.p, b.g, b.mom, b.vel, hyper,
                Args.of(d.paramCount));
    }

    // ---------------------------------------------------------------- bf16 (Precision.BF16)

    /** Whether the buffers are bf16's (the matmuls read the 16-bit parameter copy; the rounding ops below exist). */
    boolean bf16() {
        return b.p16 != null;
    }

    /** p16 = the bf16 bits of every parameter (the 16-bit copy the matmuls read), from the fp32 masters in p. */
    void bf16Weights(GraphSpec s, String task) {
        s.task(task, shapes.elements(d.paramCount), Bf16Kernels::weights, b.p16, b.p, b.pow2, Args.of(d.paramCount));
    }

    /** act[off + l aStride .. + n) = bf16(itself): a forward rounding point. */
    void round(GraphSpec s, String task, IntArray layer, int off, int aStride, int n) {
        s.task(task, shapes.elements(n), Bf16Kernels::rounding, b.act, b.pow2, layer, Args.of(off, aStride, n));
    }

    /** dact[off .. off+n) = bf16(itself): a backward rounding point. */
    void roundGradient(GraphSpec s, String task, int off, int n) {
        s.task(task, shapes.elements(n), Bf16Kernels::rounding, b.dact, b.pow2, b.zero, Args.of(off, 0, n));
    }

    /** act[dst + l stride ..] = bf16(act[src + l stride ..]), N*C floats: the bf16 copy of a block input. */
    void roundCopy(GraphSpec s, String task, IntArray layer, int dst, int src, int stride) {
        s.task(task, shapes.elements((long) d.N * d.C), Bf16Kernels::roundCopy, b.act, b.pow2, layer,
                Args.of(dst, src, stride, d.N * d.C));
    }

    /** dact[dst ..] += bf16(dact[src ..]), N*C floats: a matmul's input gradient, rounded, into the stream's. */
    void addRounded(GraphSpec s, String task, int dst, int src) {
        s.task(task, shapes.elements((long) d.N * d.C), Bf16Kernels::addRounded, b.dact, b.pow2,
                Args.of(dst, src, d.N * d.C));
    }

    // ---------------------------------------------------------------- decoding (one row; step = [token, position])

    /** act[out] (C) = wte[step[0]] (+ wpe[step[1]]). */
    void embedAt(GraphSpec s, String task, IntArray step, int out) {
        s.task(task, shapes.elements(d.C), EmbeddingKernels::forwardAt, b.act, b.p, step,
                Args.of(out, d.param("wte"), d.param("wpe"), d.C));
    }

    /** Rotates the q and k heads of the qkv row act[qkv] (+ l aStride) to position step[1]; tables of positions. */
    void ropeAt(GraphSpec s, String task, IntArray layer, IntArray step, int qkv, int aStride, int positions) {
        s.task(task, shapes.elements((long) (c.nHead() + c.nKvHead()) * (c.headDim() / 2)), RopeKernels::applyAt,
                b.act, b.consts, layer, step,
                Args.of(qkv, aStride, 1, positions, c.nHead() + c.nKvHead(), c.headDim(), d.qkvDim, 1));
    }

    /**
     * The new row's k and v into layer l's cache in {@code kv} at row step[1], then act[att] = its attention over
     * cache rows 0 .. step[1] (layout in {@link DecodeAttentionKernels}: K of layer l at l * cap * kvw, V after all
     * layers' K, the score rows after all V).
     */
    void attentionDecode(GraphSpec s, String prefix, IntArray layer, IntArray step, FloatArray kv, int att, int qkv,
            int aStride, int cap) {
        int kvw = c.nKvHead() * c.headDim();
        int lStride = cap * kvw;
        int vOff = d.L * lStride;
        int sOff = 2 * d.L * lStride;
        IntArray m = Args.of(qkv, att, aStride, 0, vOff, lStride, sOff, cap, c.nHead(), c.nKvHead(), c.headDim());
        s.task(prefix + "store", shapes.elements(2L * kvw), DecodeAttentionKernels::store, b.act, kv, layer, step, m)
                .task(prefix + "scores", shapes.elements((long) c.nHead() * cap), DecodeAttentionKernels::scores,
                        b.act, kv, b.consts, layer, step, m)
                .task(prefix + "softmax", shapes.elements(c.nHead()), DecodeAttentionKernels::softmax, kv, step, m)
                .task(prefix + "output", shapes.elements((long) c.nHead() * c.headDim()),
                        DecodeAttentionKernels::output, b.act, kv, layer, step, m);
    }

    /** Floats of the decode cache array for {@code cap} positions: K and V of every layer, one score row per head. */
    static long decodeCacheSize(ModelConfig c, int cap) {
        return 2L * c.nLayer() * cap * c.nKvHead() * c.headDim() + (long) c.nHead() * cap;
    }

    /** out[0 .. n) = act[off .. off+n). */
    void copyOut(GraphSpec s, String task, int off, int n, FloatArray out) {
        s.task(task, shapes.elements(n), MemoryKernels::copyOut, b.act, out, Args.of(off, n));
    }
}
