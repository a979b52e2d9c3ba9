package io.resflow.engine;

/**
 * The kernels a backend provides to {@link Engine}. Every array is row-major float32; N = B*T rows.
 * Backward methods take {@code add}: true ACCUMULATES (+=) into every gradient output of the call (dinp, dw, db, ...),
 * the way llm.c does, so the residual stream's gradient collects both the skip path and the block path; false
 * STORES (=) into them, whatever they held: the first write of each gradient buffer in a backward, so no pass
 * clears hundreds of MB of gradients before it. A backend may implement a store as a clear and an accumulate (the
 * reference does). A null gradient output means "not needed" and is skipped. A backend must be deterministic: the
 * same inputs give bit-identical outputs.
 */
public interface Ops {

    /** A short description for reports (threads, vector width, ...). */
    String describe();

    /**
     * What this instance computes in. In bf16 ({@link Precision}) the matmuls use bf16 copies of their weights and
     * biases (the fp32 arrays passed in are the master weights and are not changed); every other operand arrives
     * already rounded, at the points {@link Engine} and {@link KvDecoder} fix.
     */
    default Precision precision() {
        return Precision.FP32;
    }

    /**
     * The parameters changed (a new step's weights, restored ones, a decoder's at open): a backend that keeps
     * derived copies of them (bf16 weights) drops or remakes them before their next use.
     */
    default void parametersChanged(io.resflow.model.Params params) {
    }

    /** Makes now what a matmul with weight w would derive from it on first use (its bf16 copy); nothing in fp32. */
    default void prepareWeight(float[] w) {
    }

    // x (n) -> x (n) = bf16(x), round to nearest even (a rounding point of the bf16 mode)
    default void roundBf16(float[] x, int n) {
        io.resflow.reference.Bf16.round(x, n);
    }

    // tokens (B,T), wte (V,C), wpe (P,C) or null -> out (B,T,C)
    void embeddingForward(float[] out, int[] tokens, float[] wte, float[] wpe, int B, int T, int C);

    // decoding one sequence: tokens (T) at positions pos0 .. pos0+T-1 -> out (T,C) = wte[token] (+ wpe[position])
    void embeddingForwardAt(float[] out, int[] tokens, float[] wte, float[] wpe, int T, int pos0, int C);

    // dout (B,T,C) -> dwte (V,C) += scatter, dwpe (P,C) += (null when positions are not learned); a store (add
    // false) writes every row of the arrays given, 0 where no token or position landed
    void embeddingBackward(float[] dwte, float[] dwpe, float[] dout, int[] tokens, int B, int T, int C, boolean add);

    // inp (N,C), w (C), b (C) or null -> out (N,C), mean (N), rstd (N)
    void layerNormForward(float[] out, float[] mean, float[] rstd, float[] inp, float[] w, float[] b, int N, int C, float eps);

    // dout (N,C) -> dinp (N,C) +=, dw (C) +=, db (C) += (or null)
    void layerNormBackward(float[] dinp, float[] dw, float[] db, float[] dout, float[] inp, float[] w, float[] mean,
            float[] rstd, int N, int C, boolean add);

    // inp (N,C), w (C) -> out (N,C), rstd (N); out = inp / sqrt(mean(inp^2) + eps) * w
    void rmsNormForward(float[] out, float[] rstd, float[] inp, float[] w, int N, int C, float eps);

    // dout (N,C) -> dinp (N,C) +=, dw (C) += (either may be null)
    void rmsNormBackward(float[] dinp, float[] dw, float[] dout, float[] inp, float[] w, float[] rstd, int N, int C,
            boolean add);

    // inp (N,C), weight (OC,C), bias (OC) or null -> out (N,OC) = inp weight^T + bias
    void matmulForward(float[] out, float[] inp, float[] weight, float[] bias, int N, int C, int OC);

    // dout (N,OC) -> dinp (N,C) += dout weight, dweight (OC,C) += dout^T inp, dbias (OC) += sum_n dout
    void matmulBackward(float[] dinp, float[] dweight, float[] dbias, float[] dout, float[] inp, float[] weight, int N,
            int C, int OC, boolean add);

    // qkv (B,T,(nh+2 nkv) hd), in place: rotate-half RoPE on every q and k head (pairs j, j+hd/2)
    void ropeForward(float[] qkv, int B, int T, int nh, int nkv, int hd, double theta);

    // decoding one sequence: qkv (T,(nh+2 nkv) hd) at positions pos0 .. pos0+T-1, in place (as ropeForward)
    void ropeForwardAt(float[] qkv, int T, int pos0, int nh, int nkv, int hd, double theta);

    // dqkv (B,T,(nh+2 nkv) hd), in place: the transposed rotation of the q and k parts
    void ropeBackward(float[] dqkv, int B, int T, int nh, int nkv, int hd, double theta);

    /** Floats of per-forward state the attention keeps for its backward (probabilities, log-sum-exp, ...). */
    long attentionStateSize(int B, int T, int nh);

    // qkv (B,T,(nh+2 nkv) hd) -> out (B,T,nh hd), causal softmax(q k^T / sqrt(hd)) v; query head h reads kv head
    // h / (nh/nkv); state as sized by attentionStateSize
    void attentionForward(float[] out, float[] state, float[] qkv, int B, int T, int nh, int nkv, int hd);

    /**
     * Decoding one sequence with a KV cache: qkv (T,(nh+2 nkv) hd) holds the rows at positions pos0 .. pos0+T-1;
     * their k and v parts are written into kCache, vCache (capacity, nkv hd) at those rows, then out (T, nh hd) row t
     * is the causal attention of its query over cache rows 0 .. pos0+t (the full forward's row pos0+t).
     */
    void attentionDecode(float[] out, float[] kCache, float[] vCache, float[] qkv, int T, int pos0, int nh, int nkv,
            int hd);

    // dout (B,T,nh hd) -> dqkv (B,T,(nh+2 nkv) hd) +=
    void attentionBackward(float[] dqkv, float[] dout, float[] qkv, float[] out, float[] state, int B, int T, int nh,
            int nkv, int hd, boolean add);

    // inp (n) -> out (n) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    void geluForward(float[] out, float[] inp, int n);

    // dout (n) -> dinp (n) +=
    void geluBackward(float[] dinp, float[] inp, float[] dout, int n, boolean add);

    // inp (N,2F) = gate | up -> out (N,F) = silu(gate) * up
    void swigluForward(float[] out, float[] inp, int N, int F);

    // dout (N,F) -> dinp (N,2F) +=
    void swigluBackward(float[] dinp, float[] inp, float[] dout, int N, int F, boolean add);

    // out (n) = alpha * skip + gate * branch
    void residualForward(float[] out, float[] skip, float alpha, float[] branch, float gate, int n);

    /**
     * dskip += alpha * dout, dbranch += gate * dout (either may be null); returns sum(dout * branch), the gradient
     * of the gate.
     */
    double residualBackward(float[] dskip, float[] dbranch, float[] dout, float alpha, float[] branch, float gate, int n,
            boolean add);

    /** logits (N,V), targets (N) -> probs (N,V) = softmax(logits), losses (N); returns the mean loss. */
    double crossEntropyForward(float[] losses, float[] probs, float[] logits, int[] targets, int N, int V);

    // dlogits (N,V) += (probs - onehot(targets)) / N   (the gradient of the mean loss)
    void crossEntropyBackward(float[] dlogits, float[] probs, int[] targets, int N, int V, boolean add);

    /**
     * One AdamW step on n values, step t from 1, gradient scaled by gradScale first (clipping):
     * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + wd p).
     */
    void adamw(float[] p, float[] g, float[] m, float[] v, int n, float lr, float b1, float b2, float eps, float wd,
            int t, float gradScale);

    /** Sum of squares of g, accumulated in double (for the global gradient norm). */
    double sumSquares(float[] g, int n);
}
