package io.resflow.tornado;

import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.model.ParamLayout;
import io.resflow.model.ParamSpec;
import io.resflow.tornado.kernels.Bf16Kernels;
import io.resflow.tornado.kernels.Consts;
import io.resflow.tornado.kernels.Reduce;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where every tensor of a session lives in the few large device arrays, and how many bytes they take. Pure
 * arithmetic: it needs no device, so a model can be sized before anything is allocated ({@link #bytes()}).
 *
 * <ul>
 * <li>{@code p}, {@code g}, AdamW's m and v: the flat {@link ParamLayout} order. Layer i's tensors sit at the offset of
 * layer 0's plus {@code i * pStride}, since every layer has the same tensors in the same order.</li>
 * <li>{@code act} without recompute: one slab of {@code slabSize} floats per layer ({@code aStride = slabSize}), then
 * a tail. The slab of layer l starts with the residual stream h_{2l} (the attention block's input, {@code hA}) and
 * h_{2l+1} (the MLP block's input, {@code hM}); the MLP block of layer l writes h_{2l+2} into the next slab
 * ({@code hA + aStride}), so the last one lands in the tail, which begins with h_{2L}.</li>
 * <li>{@code act} with recompute: one slab shared by every layer ({@code aStride = 0}, so the same kernels and
 * arguments address it), then the stream h_0 .. h_2L ({@code stream}, N*C floats each: h_k at
 * {@link #streamAt(int) stream + k N C}), then the tail with h_{2L} = the stream's last entry. Only the stream
 * survives a forward pass; each block's intermediates are recomputed into the slab just before its backward.</li>
 * <li>Attention keeps, per layer, the probabilities P (B,nh,T,T) with the CPU-shaped kernels, or only the
 * log-sum-exp of each query row (B,nh,T) with flash attention ({@code flashAttention}, the GPU shapes), which
 * recomputes P tile by tile in the backward: {@code attState}; the backward's scratch is dS (B,nh,T,T) or the row
 * sums D = dout.out (B,nh,T): {@code dAttState}.</li>
 * <li>{@code dact}: backward scratch shared by all layers (the stream gradient ping-pong dA/dB and the block's
 * intermediate gradients) and the transposed operands of the backward matmuls.</li>
 * <li>bf16 ({@link #bf16}, {@code io.resflow.engine.Precision#BF16}): the parameters also have a 16-bit copy in the
 * same flat order ({@code DeviceBuffers.p16}, the bf16 bits of {@code p}, remade each step), and a block whose first
 * matmul reads the stream itself (no norm before the block) keeps that input's bf16 copy where a pre-norm keeps its
 * output ({@code nbA}, {@code nbM}): the stream stays fp32, the matmul and its weight gradient read the copy.</li>
 * </ul>
 * Offsets are {@code int}: each array must stay under 2^31 floats ({@link #requireIntOffsets()}).
 */
final class DeviceLayout {
    final boolean recompute;
    /** Flash attention (GPU shapes): per-row log-sum-exp instead of the B x nh x T x T probabilities. */
    final boolean flashAttention;
    /** bf16 mode: a 16-bit copy of the parameters, the block inputs' bf16 copies where there is no pre-norm. */
    final boolean bf16;
    final int B;
    final int T;
    final int N;
    final int C;
    final int V;
    final int L;
    final int qkvDim;
    final int qDim;
    final int fcDim;
    final int dFf;

    final Map<String, Integer> paramOffset = new LinkedHashMap<>();
    final int paramCount;
    final int pStride;

    // slab fields (offsets within a layer's slab; -1 when the scheme does not have them)
    final int hA;
    final int hM;
    final int nbA;
    final int nbM;
    final int nbStatsA;
    final int nbStatsM;
    final int qkv;
    final int att;
    /** P (B,nh,T,T), or with flash attention the log-sum-exp (B,nh,T). */
    final int attState;
    final int fA;
    final int sumA;
    final int sumM;
    final int outStatsA;
    final int outStatsM;
    final int fc;
    final int actv;
    final int fM;
    /** Floats of one slab. */
    final int slabSize;
    /** Distance between the slabs of consecutive layers: slabSize, or 0 with recompute (one shared slab). */
    final int aStride;
    /** With recompute: where h_0 .. h_2L live (absolute); -1 without. */
    final int stream;
    // tail (absolute)
    final int hFinal;
    final int lnf;
    final int lnfStats;
    final int logits;
    final int ceProbs;
    final int losses;
    final int actSize;

    // dact (absolute)
    final int dA;
    final int dB;
    final int dSum;
    final int dF;
    final int dNorm;
    final int dQkv;
    final int dAtt;
    /** dS (B,nh,T,T), or with flash attention D = rowsum(dout * out) (B,nh,T). */
    final int dAttState;
    final int dFc;
    final int dAct;
    final int dLogits;
    final int dLnf;
    final int tW;
    final int tDout;
    final int tX;
    final int dactSize;

    /** Floats of the small arrays: model constants (RoPE tables), reduction partials; ints of the token array. */
    final int constsSize;
    final int partialsSize = Reduce.MAX_LOCAL;
    final int tokSize;

    // the sizes in floats before the int check, so that a model too large to index can still be sized
    private final long paramFloats;
    private final long actFloats;
    private final long dactFloats;
    private long cursor;

    /** The layout of the CPU-shaped kernels (attention keeps P). */
    DeviceLayout(ModelConfig c, int batch, int seqLen, boolean recompute) {
        this(c, batch, seqLen, recompute, false);
    }

    DeviceLayout(ModelConfig c, int batch, int seqLen, boolean recompute, boolean flashAttention) {
        this(c, batch, seqLen, recompute, flashAttention, false);
    }

    DeviceLayout(ModelConfig c, int batch, int seqLen, boolean recompute, boolean flashAttention, boolean bf16) {
        this.recompute = recompute;
        this.flashAttention = flashAttention;
        this.bf16 = bf16;
        B = batch;
        T = seqLen;
        N = Math.multiplyExact(batch, seqLen);
        C = c.dModel();
        V = c.vocabSize();
        L = c.nLayer();
        qkvDim = c.qkvDim();
        qDim = c.qDim();
        fcDim = c.fcDim();
        dFf = c.dFf();
        long probsSize = (long) B * c.nHead() * T * (flashAttention ? 1 : T);

        long off = 0;
        for (ParamSpec s : ParamLayout.of(c).specs()) {
            paramOffset.put(s.name(), (int) Math.min(off, Integer.MAX_VALUE));
            off += s.size();
        }
        paramFloats = off;
        paramCount = clamp(off);
        pStride = L > 1 ? param("h.1.qkv.w") - param("h.0.qkv.w") : 0;
        for (String name : paramOffset.keySet()) {
            if (L > 1 && name.startsWith("h.0.") && off < Integer.MAX_VALUE) {
                String next = "h.1." + name.substring(4);
                if (param(next) - param(name) != pStride) {
                    throw new IllegalStateException("parameter layout is not uniform across layers at " + name);
                }
            }
        }

        var r = c.residual();
        long nc = (long) N * C;
        cursor = 0;
        hA = field(nc, true);
        hM = field(nc, true);
        // the first matmul's input when it is not the stream itself: the pre-norm's output, or in bf16 the stream's
        // bf16 copy
        nbA = field(nc, r.normBeforeBlock() || bf16);
        nbM = field(nc, r.normBeforeBlock() || bf16);
        nbStatsA = field(2L * N, r.normBeforeBlock());
        nbStatsM = field(2L * N, r.normBeforeBlock());
        qkv = field((long) N * qkvDim, true);
        att = field((long) N * qDim, true);
        attState = field(probsSize, true);
        fA = field(nc, true);
        sumA = field(nc, r.normAfterSum());
        sumM = field(nc, r.normAfterSum());
        outStatsA = field(2L * N, r.normAfterSum());
        outStatsM = field(2L * N, r.normAfterSum());
        fc = field((long) N * fcDim, true);
        actv = field((long) N * dFf, true);
        fM = field(nc, true);
        long slab = cursor;
        slabSize = clamp(slab);
        if (recompute) {
            aStride = 0;
            stream = field((2L * L + 1) * nc, true);
            hFinal = clamp(stream + 2L * L * nc);
        } else {
            aStride = slabSize;
            cursor = slab * L;
            stream = -1;
            hFinal = field(nc, true);
        }
        lnf = field(nc, true);
        lnfStats = field(2L * N, true);
        logits = field((long) N * V, true);
        ceProbs = field((long) N * V, true);
        losses = field(N, true);
        actFloats = cursor;
        actSize = clamp(cursor);

        cursor = 0;
        dA = field(nc, true);
        dB = field(nc, true);
        dSum = field(nc, true);
        dF = field(nc, true);
        dNorm = field(nc, true);
        dQkv = field((long) N * qkvDim, true);
        dAtt = field((long) N * qDim, true);
        dAttState = field(probsSize, true);
        dFc = field((long) N * fcDim, true);
        dAct = field((long) N * dFf, true);
        dLogits = field((long) N * V, true);
        dLnf = field(nc, true);
        // transposed operands of the backward matmuls: a weight (the head's V x C is the largest), the output
        // gradient and the input of one product
        long maxW = Math.max((long) V * C, Math.max((long) qkvDim * C, Math.max((long) fcDim * C, (long) dFf * C)));
        tW = field(Math.max(maxW, (long) C * qDim), true);
        tDout = field((long) N * Math.max(Math.max(V, qkvDim), Math.max(fcDim, C)), true);
        tX = field((long) N * Math.max(Math.max(C, qDim), dFf), true);
        dactFloats = cursor;
        dactSize = clamp(cursor);

        constsSize = Consts.ROPE + Math.max(c.learnedPositions() ? 0 : 2 * T * (c.headDim() / 2), 1);
        tokSize = 3 * N;
    }

    private int field(long size, boolean present) {
        if (!present) {
            return -1;
        }
        long at = cursor;
        cursor += size;
        return clamp(at);
    }

    private static int clamp(long v) {
        return (int) Math.min(v, Integer.MAX_VALUE);
    }

    /** The same model, batch and kernels with recompute on. */
    DeviceLayout withRecompute(ModelConfig c) {
        return recompute ? this : new DeviceLayout(c, B, T, true, flashAttention, bf16);
    }

    /** Offset of h_k (k = 0 .. 2L) in the stream; recompute only. */
    int streamAt(int k) {
        return clamp(stream + (long) k * N * C);
    }

    /** Throws {@link BadInputException} when an array is too large for the kernels' 32-bit indices. */
    void requireIntOffsets() {
        long[] sizes = {paramFloats, actFloats, dactFloats};
        String[] what = {"parameters", "activations", "activation gradients"};
        for (int i = 0; i < sizes.length; i++) {
            if (sizes[i] >= Integer.MAX_VALUE) {
                throw new BadInputException("the tornado backend indexes each device array with 32-bit ints; the "
                        + what[i] + " need " + sizes[i] + " floats. Use " + (recompute || i != 1 ? ""
                                : "\"recompute\": true, or ")
                        + "a smaller batch, sequence or model");
            }
        }
    }

    /** Offset of a parameter (layer 0 for per-layer ones), or -1 when the model has no such tensor. */
    int param(String name) {
        Integer o = paramOffset.get(name);
        return o == null ? -1 : o;
    }

    /**
     * Device bytes of the session's buffers by what they hold. {@code parameters} is the fp32 master copy, in bf16
     * also the 16-bit copy (2 bytes per parameter). {@code activations} is everything but parameters, gradients and
     * AdamW state: act, dact and the small arrays (constants, reduction partials, tokens, in bf16 the widening
     * table); the graphs' own argument arrays (a few KB) are not counted.
     */
    record Bytes(long parameters, long gradients, long optimizer, long activations) {
        long total() {
            return parameters + gradients + optimizer + activations;
        }
    }

    Bytes bytes() {
        long param = paramBytes();
        long small = 4L * constsSize + 4L * partialsSize + 4L * tokSize + 4L + (bf16 ? 4L * Bf16Kernels.POW2 : 0);
        return new Bytes(param + (bf16 ? param16Bytes() : 0), param, 2 * param, actBytes() + dactBytes() + small);
    }

    /** Bytes of one of the parameter-sized buffers (p, g, m, v). */
    long paramBytes() {
        return 4 * paramFloats;
    }

    /** Bytes of the 16-bit parameter copy (bf16 only). */
    long param16Bytes() {
        return 2 * paramFloats;
    }

    /** Bytes of the act buffer. */
    long actBytes() {
        return 4 * actFloats;
    }

    /** Bytes of the dact buffer. */
    long dactBytes() {
        return 4 * dactFloats;
    }
}
