package io.resflow.tornado;

import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.model.ParamLayout;
import io.resflow.model.ParamSpec;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where every tensor of a session lives in the few large device arrays.
 *
 * <ul>
 * <li>{@code p}, {@code g}, AdamW's m and v: the flat {@link ParamLayout} order. Layer i's tensors sit at the offset of
 * layer 0's plus {@code i * pStride}, since every layer has the same tensors in the same order.</li>
 * <li>{@code act}: one slab of {@code aStride} floats per layer, then a tail. The slab of layer l starts with the
 * residual stream h_{2l} (the attention block's input) and h_{2l+1} (the MLP block's input); the MLP block of layer l
 * writes h_{2l+2} into the next slab, so the last one lands in the tail, which begins with h_{2L}.</li>
 * <li>{@code dact}: backward scratch shared by all layers (the stream gradient ping-pong dA/dB and the block's
 * intermediate gradients) and the transposed operands of the backward matmuls.</li>
 * </ul>
 * Offsets are {@code int}: each array must stay under 2^31 floats.
 */
final class DeviceLayout {
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
    final int probsSize;

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
    final int probs;
    final int fA;
    final int sumA;
    final int sumM;
    final int outStatsA;
    final int outStatsM;
    final int fc;
    final int actv;
    final int fM;
    final int aStride;
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
    final int dS;
    final int dFc;
    final int dAct;
    final int dLogits;
    final int dLnf;
    final int tW;
    final int tDout;
    final int tX;
    final int dactSize;

    private long cursor;

    DeviceLayout(ModelConfig c, int batch, int seqLen) {
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
        probsSize = checked((long) B * c.nHead() * T * T, "attention probabilities");

        long off = 0;
        for (ParamSpec s : ParamLayout.of(c).specs()) {
            paramOffset.put(s.name(), (int) Math.min(off, Integer.MAX_VALUE));
            off += s.size();
        }
        paramCount = checked(off, "parameters");
        pStride = L > 1 ? param("h.1.qkv.w") - param("h.0.qkv.w") : 0;
        for (String name : paramOffset.keySet()) {
            if (L > 1 && name.startsWith("h.0.")) {
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
        nbA = field(nc, r.normBeforeBlock());
        nbM = field(nc, r.normBeforeBlock());
        nbStatsA = field(2L * N, r.normBeforeBlock());
        nbStatsM = field(2L * N, r.normBeforeBlock());
        qkv = field((long) N * qkvDim, true);
        att = field((long) N * qDim, true);
        probs = field(probsSize, true);
        fA = field(nc, true);
        sumA = field(nc, r.normAfterSum());
        sumM = field(nc, r.normAfterSum());
        outStatsA = field(2L * N, r.normAfterSum());
        outStatsM = field(2L * N, r.normAfterSum());
        fc = field((long) N * fcDim, true);
        actv = field((long) N * dFf, true);
        fM = field(nc, true);
        aStride = checked(cursor, "activations of one layer");
        cursor = (long) aStride * L;
        hFinal = field(nc, true);
        lnf = field(nc, true);
        lnfStats = field(2L * N, true);
        logits = field((long) N * V, true);
        ceProbs = field((long) N * V, true);
        losses = field(N, true);
        actSize = checked(cursor, "activations");

        cursor = 0;
        dA = field(nc, true);
        dB = field(nc, true);
        dSum = field(nc, true);
        dF = field(nc, true);
        dNorm = field(nc, true);
        dQkv = field((long) N * qkvDim, true);
        dAtt = field((long) N * qDim, true);
        dS = field(probsSize, true);
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
        dactSize = checked(cursor, "activation gradients");
    }

    private int field(long size, boolean present) {
        if (!present) {
            return -1;
        }
        long at = cursor;
        cursor += size;
        return (int) Math.min(at, Integer.MAX_VALUE);
    }

    private static int checked(long size, String what) {
        if (size >= Integer.MAX_VALUE) {
            throw new BadInputException("the tornado backend indexes each device array with 32-bit ints; the " + what
                    + " need " + size + " floats. Use a smaller batch, sequence or model");
        }
        return (int) size;
    }

    /** Offset of a parameter (layer 0 for per-layer ones), or -1 when the model has no such tensor. */
    int param(String name) {
        Integer o = paramOffset.get(name);
        return o == null ? -1 : o;
    }

    /** Offset of layer 0's tensor {@code h.0.<suffix>}, or -1. */
    int layerParam(String suffix) {
        return param("h.0." + suffix);
    }
}
