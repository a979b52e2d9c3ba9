package io.resflow.jvm;

import io.resflow.engine.Ops;
import io.resflow.engine.Precision;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The jvm backend's {@link Ops}: multi-threaded ({@link WorkerPool}) Vector API kernels
 * ({@code FloatVector.SPECIES_PREFERRED}, whatever width the CPU and JVM give). One class per op, named as the
 * reference's op in {@code io.resflow.reference}, with its forward and backward kernels side by side:
 * {@link Embedding}, {@link LayerNorm}, {@link RmsNorm}, {@link Matmul} (on the GEMM core {@link Sgemm}),
 * {@link Rope}, {@link Attention} (and {@link AttentionDecode} over a KV cache), {@link Gelu}, {@link SwiGlu}, {@link ResidualAdd}, {@link CrossEntropy},
 * {@link AdamWUpdate}. This class only routes the contract's calls to them.
 *
 * <p>Determinism: every output element is written by one task; reductions over rows (norm and bias gradients,
 * embedding scatter) are partitioned over columns and run over rows in order; scalar reductions (residual gate
 * gradient, sum of squares) use fixed chunks summed in order. Results are bit-identical run to run and do not depend on
 * the thread count (they may differ between vector widths). No transcendental Vector API operators or float ADD
 * reductions are used (see {@link VMath}).
 *
 * <p>Allocation: each kernel's arguments live in a preallocated job object, scratch buffers are per thread and grown
 * once per shape, so a steady-state training step allocates nothing. An instance is meant for one session (one
 * calling thread at a time); instances with the same thread count share one pool.
 */
public final class JvmOps implements Ops {
    static final VectorSpecies<Float> SP = FloatVector.SPECIES_PREFERRED;
    static final int L = SP.length();
    /** Elements per task of element-wise kernels (see {@link Exec#CHUNK}). */
    static final int CHUNK = Exec.CHUNK;

    private final Exec exec;
    private final Embedding embedding;
    private final LayerNorm layerNorm;
    private final RmsNorm rmsNorm;
    private final Matmul matmul;
    private final Rope rope;
    private final Attention attention;
    private final AttentionDecode attentionDecode;
    private final Gelu gelu;
    private final SwiGlu swiGlu;
    private final ResidualAdd residual;
    private final CrossEntropy crossEntropy;
    private final AdamWUpdate adamW;
    private final Precision precision;
    private final Bf16 bf16;

    public JvmOps() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public JvmOps(int threads) {
        this(threads, Precision.FP32);
    }

    /** In bf16 the matmuls read bf16 copies (16-bit arrays) of their weights, made once per step. */
    public JvmOps(int threads, Precision precision) {
        JvmSettings.check();
        this.exec = new Exec(threads);
        this.precision = precision;
        this.bf16 = new Bf16(exec);
        this.embedding = new Embedding(exec);
        this.layerNorm = new LayerNorm(exec);
        this.rmsNorm = new RmsNorm(layerNorm);
        this.matmul = new Matmul(exec, precision == Precision.BF16 ? bf16 : null);
        this.rope = new Rope(exec);
        this.attention = new Attention(exec);
        this.attentionDecode = new AttentionDecode(exec);
        this.gelu = new Gelu(exec);
        this.swiGlu = new SwiGlu(exec);
        this.residual = new ResidualAdd(exec);
        this.crossEntropy = new CrossEntropy(exec);
        this.adamW = new AdamWUpdate(exec);
    }

    public int threads() {
        return exec.threads;
    }

    @Override
    public String describe() {
        return describe(exec.threads) + (precision == Precision.BF16 ? ", bf16 weights" : "");
    }

    @Override
    public Precision precision() {
        return precision;
    }

    @Override
    public void parametersChanged(io.resflow.model.Params params) {
        bf16.invalidate();
    }

    @Override
    public void prepareWeight(float[] w) {
        if (precision == Precision.BF16) {
            bf16.weight(w, w.length);
        }
    }

    @Override
    public void roundBf16(float[] x, int n) {
        bf16.round(x, n);
    }

    /** e.g. "2 threads, FloatVector 512-bit (16 lanes)". */
    public static String describe(int threads) {
        JvmSettings.check();
        return threads + " threads, FloatVector " + SP.vectorBitSize() + "-bit (" + L + " lanes)";
    }

    @Override
    public void embeddingForward(float[] out, int[] tokens, float[] wte, float[] wpe, int B, int T, int C) {
        embedding.forward(out, tokens, wte, wpe, B, T, C);
    }

    @Override
    public void embeddingForwardAt(float[] out, int[] tokens, float[] wte, float[] wpe, int T, int pos0, int C) {
        embedding.forwardAt(out, tokens, wte, wpe, T, pos0, C);
    }

    @Override
    public void embeddingBackward(float[] dwte, float[] dwpe, float[] dout, int[] tokens, int B, int T, int C,
            boolean add) {
        embedding.backward(dwte, dwpe, dout, tokens, B, T, C, add);
    }

    @Override
    public void layerNormForward(float[] out, float[] mean, float[] rstd, float[] inp, float[] w, float[] b, int N,
            int C, float eps) {
        layerNorm.forward(out, mean, rstd, inp, w, b, N, C, eps);
    }

    @Override
    public void layerNormBackward(float[] dinp, float[] dw, float[] db, float[] dout, float[] inp, float[] w,
            float[] mean, float[] rstd, int N, int C, boolean add) {
        layerNorm.backward(dinp, dw, db, dout, inp, w, mean, rstd, N, C, add);
    }

    @Override
    public void rmsNormForward(float[] out, float[] rstd, float[] inp, float[] w, int N, int C, float eps) {
        rmsNorm.forward(out, rstd, inp, w, N, C, eps);
    }

    @Override
    public void rmsNormBackward(float[] dinp, float[] dw, float[] dout, float[] inp, float[] w, float[] rstd, int N,
            int C, boolean add) {
        rmsNorm.backward(dinp, dw, dout, inp, w, rstd, N, C, add);
    }

    @Override
    public void matmulForward(float[] out, float[] inp, float[] weight, float[] bias, int N, int C, int OC) {
        matmul.forward(out, inp, weight, bias, N, C, OC);
    }

    @Override
    public void matmulBackward(float[] dinp, float[] dweight, float[] dbias, float[] dout, float[] inp,
            float[] weight, int N, int C, int OC, boolean add) {
        matmul.backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC, add);
    }

    @Override
    public void ropeForward(float[] qkv, int B, int T, int nh, int nkv, int hd, double theta) {
        rope.forward(qkv, B, T, nh, nkv, hd, theta);
    }

    @Override
    public void ropeForwardAt(float[] qkv, int T, int pos0, int nh, int nkv, int hd, double theta) {
        rope.forwardAt(qkv, T, pos0, nh, nkv, hd, theta);
    }

    @Override
    public void ropeBackward(float[] dqkv, int B, int T, int nh, int nkv, int hd, double theta) {
        rope.backward(dqkv, B, T, nh, nkv, hd, theta);
    }

    @Override
    public long attentionStateSize(int B, int T, int nh) {
        return Attention.stateSize(B, T, nh);
    }

    @Override
    public void attentionForward(float[] out, float[] state, float[] qkv, int B, int T, int nh, int nkv, int hd) {
        attention.forward(out, state, qkv, B, T, nh, nkv, hd);
    }

    @Override
    public void attentionDecode(float[] out, float[] kCache, float[] vCache, float[] qkv, int T, int pos0, int nh,
            int nkv, int hd) {
        attentionDecode.forward(out, kCache, vCache, qkv, T, pos0, nh, nkv, hd);
    }

    @Override
    public void attentionBackward(float[] dqkv, float[] dout, float[] qkv, float[] out, float[] state, int B, int T,
            int nh, int nkv, int hd, boolean add) {
        attention.backward(dqkv, dout, qkv, out, state, B, T, nh, nkv, hd, add);
    }

    @Override
    public void geluForward(float[] out, float[] inp, int n) {
        gelu.forward(out, inp, n);
    }

    @Override
    public void geluBackward(float[] dinp, float[] inp, float[] dout, int n, boolean add) {
        gelu.backward(dinp, inp, dout, n, add);
    }

    @Override
    public void swigluForward(float[] out, float[] inp, int N, int F) {
        swiGlu.forward(out, inp, N, F);
    }

    @Override
    public void swigluBackward(float[] dinp, float[] inp, float[] dout, int N, int F, boolean add) {
        swiGlu.backward(dinp, inp, dout, N, F, add);
    }

    @Override
    public void residualForward(float[] out, float[] skip, float alpha, float[] branch, float gate, int n) {
        residual.forward(out, skip, alpha, branch, gate, n);
    }

    @Override
    public double residualBackward(float[] dskip, float[] dbranch, float[] dout, float alpha, float[] branch,
            float gate, int n, boolean add) {
        return residual.backward(dskip, dbranch, dout, alpha, branch, gate, n, add);
    }

    @Override
    public double crossEntropyForward(float[] losses, float[] probs, float[] logits, int[] targets, int N, int V) {
        return crossEntropy.forward(losses, probs, logits, targets, N, V);
    }

    @Override
    public void crossEntropyBackward(float[] dlogits, float[] probs, int[] targets, int N, int V, boolean add) {
        crossEntropy.backward(dlogits, probs, targets, N, V, add);
    }

    @Override
    public void adamw(float[] p, float[] g, float[] m, float[] v, int n, float lr, float b1, float b2, float eps,
            float wd, int t, float gradScale) {
        adamW.update(p, g, m, v, n, lr, b1, b2, eps, wd, t, gradScale);
    }

    @Override
    public double sumSquares(float[] g, int n) {
        return adamW.sumSquares(g, n);
    }
}
