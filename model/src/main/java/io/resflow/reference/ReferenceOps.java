package io.resflow.reference;

import io.resflow.engine.Ops;
import io.resflow.engine.Precision;

/**
 * The oracle: every op in plain, single-threaded Java with double accumulation. One class per op; the ops accumulate
 * into their gradients, so a store ({@code add} false, see {@link Ops}) is a clear of the outputs first.
 */
public final class ReferenceOps implements Ops {
    private final Precision precision;

    public ReferenceOps() {
        this(Precision.FP32);
    }

    /** In bf16 the matmuls round their weights and biases to bf16 as they read them (see {@link Precision}). */
    public ReferenceOps(Precision precision) {
        this.precision = precision;
    }

    @Override
    public String describe() {
        return "pure Java, single thread, float storage with double accumulation"
                + (precision == Precision.BF16 ? ", bf16 rounding points" : "");
    }

    @Override
    public Precision precision() {
        return precision;
    }

    @Override
    public void embeddingForward(float[] out, int[] tokens, float[] wte, float[] wpe, int B, int T, int C) {
        Embedding.forward(out, tokens, wte, wpe, B, T, C);
    }

    @Override
    public void embeddingForwardAt(float[] out, int[] tokens, float[] wte, float[] wpe, int T, int pos0, int C) {
        Embedding.forwardAt(out, tokens, wte, wpe, T, pos0, C);
    }

    @Override
    public void embeddingBackward(float[] dwte, float[] dwpe, float[] dout, int[] tokens, int B, int T, int C,
            boolean add) {
        clear(add, dwte, dwte == null ? 0 : dwte.length);
        clear(add, dwpe, dwpe == null ? 0 : dwpe.length);
        Embedding.backward(dwte, dwpe, dout, tokens, B, T, C);
    }

    @Override
    public void layerNormForward(float[] out, float[] mean, float[] rstd, float[] inp, float[] w, float[] b, int N,
            int C, float eps) {
        LayerNorm.forward(out, mean, rstd, inp, w, b, N, C, eps);
    }

    @Override
    public void layerNormBackward(float[] dinp, float[] dw, float[] db, float[] dout, float[] inp, float[] w,
            float[] mean, float[] rstd, int N, int C, boolean add) {
        clear(add, dinp, N * C);
        clear(add, dw, C);
        clear(add, db, C);
        LayerNorm.backward(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
    }

    @Override
    public void rmsNormForward(float[] out, float[] rstd, float[] inp, float[] w, int N, int C, float eps) {
        RmsNorm.forward(out, rstd, inp, w, N, C, eps);
    }

    @Override
    public void rmsNormBackward(float[] dinp, float[] dw, float[] dout, float[] inp, float[] w, float[] rstd, int N,
            int C, boolean add) {
        clear(add, dinp, N * C);
        clear(add, dw, C);
        RmsNorm.backward(dinp, dw, dout, inp, w, rstd, N, C);
    }

    @Override
    public void matmulForward(float[] out, float[] inp, float[] weight, float[] bias, int N, int C, int OC) {
        Matmul.forward(out, inp, weight, bias, N, C, OC, precision);
    }

    @Override
    public void matmulBackward(float[] dinp, float[] dweight, float[] dbias, float[] dout, float[] inp,
            float[] weight, int N, int C, int OC, boolean add) {
        clear(add, dinp, N * C);
        clear(add, dweight, OC * C);
        clear(add, dbias, OC);
        Matmul.backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC, precision);
    }

    @Override
    public void ropeForward(float[] qkv, int B, int T, int nh, int nkv, int hd, double theta) {
        Rope.forward(qkv, B, T, nh, nkv, hd, theta);
    }

    @Override
    public void ropeForwardAt(float[] qkv, int T, int pos0, int nh, int nkv, int hd, double theta) {
        Rope.forwardAt(qkv, T, pos0, nh, nkv, hd, theta);
    }

    @Override
    public void ropeBackward(float[] dqkv, int B, int T, int nh, int nkv, int hd, double theta) {
        Rope.backward(dqkv, B, T, nh, nkv, hd, theta);
    }

    @Override
    public long attentionStateSize(int B, int T, int nh) {
        return Attention.stateSize(B, T, nh);
    }

    @Override
    public void attentionForward(float[] out, float[] state, float[] qkv, int B, int T, int nh, int nkv, int hd) {
        Attention.forward(out, state, qkv, B, T, nh, nkv, hd);
    }

    @Override
    public void attentionDecode(float[] out, float[] kCache, float[] vCache, float[] qkv, int T, int pos0, int nh,
            int nkv, int hd) {
        Attention.decode(out, kCache, vCache, qkv, T, pos0, nh, nkv, hd);
    }

    @Override
    public void attentionBackward(float[] dqkv, float[] dout, float[] qkv, float[] out, float[] state, int B, int T,
            int nh, int nkv, int hd, boolean add) {
        clear(add, dqkv, B * T * (nh + 2 * nkv) * hd);
        Attention.backward(dqkv, dout, qkv, state, B, T, nh, nkv, hd);
    }

    @Override
    public void geluForward(float[] out, float[] inp, int n) {
        Gelu.forward(out, inp, n);
    }

    @Override
    public void geluBackward(float[] dinp, float[] inp, float[] dout, int n, boolean add) {
        clear(add, dinp, n);
        Gelu.backward(dinp, inp, dout, n);
    }

    @Override
    public void swigluForward(float[] out, float[] inp, int N, int F) {
        SwiGlu.forward(out, inp, N, F);
    }

    @Override
    public void swigluBackward(float[] dinp, float[] inp, float[] dout, int N, int F, boolean add) {
        clear(add, dinp, 2 * N * F);
        SwiGlu.backward(dinp, inp, dout, N, F);
    }

    @Override
    public void residualForward(float[] out, float[] skip, float alpha, float[] branch, float gate, int n) {
        ResidualAdd.forward(out, skip, alpha, branch, gate, n);
    }

    @Override
    public double residualBackward(float[] dskip, float[] dbranch, float[] dout, float alpha, float[] branch,
            float gate, int n, boolean add) {
        clear(add, dskip, n);
        clear(add, dbranch, n);
        return ResidualAdd.backward(dskip, dbranch, dout, alpha, branch, gate, n);
    }

    @Override
    public double crossEntropyForward(float[] losses, float[] probs, float[] logits, int[] targets, int N, int V) {
        return CrossEntropy.forward(losses, probs, logits, targets, N, V);
    }

    @Override
    public void crossEntropyBackward(float[] dlogits, float[] probs, int[] targets, int N, int V, boolean add) {
        clear(add, dlogits, N * V);
        CrossEntropy.backward(dlogits, probs, targets, N, V);
    }

    @Override
    public void adamw(float[] p, float[] g, float[] m, float[] v, int n, float lr, float b1, float b2, float eps,
            float wd, int t, float gradScale) {
        AdamWUpdate.step(p, g, m, v, n, lr, b1, b2, eps, wd, t, gradScale);
    }

    @Override
    public double sumSquares(float[] g, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += (double) g[i] * g[i];
        }
        return s;
    }

    /** A store as the reference does it: the output's first n floats cleared, then accumulated into. */
    private static void clear(boolean add, float[] a, int n) {
        if (!add && a != null) {
            java.util.Arrays.fill(a, 0, n, 0f);
        }
    }
}
