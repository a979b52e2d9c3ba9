package io.resflow.jvm;

import io.resflow.engine.Ops;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The JVM backend's kernels: multi-threaded ({@link WorkerPool}) and vectorised with the Vector API
 * ({@code FloatVector.SPECIES_PREFERRED}).
 *
 * <ul>
 *   <li>Linear layers run on {@link Sgemm} (register-blocked, cache-tiled, FMA).</li>
 *   <li>Attention is fused ({@link Attention}): online softmax per query row, only the log-sum-exp (B, nh, T) is kept
 *       for the backward, which recomputes the probabilities.</li>
 *   <li>Norms compute mean and variance in one pass; cross-entropy fuses softmax and loss.</li>
 * </ul>
 *
 * <p>Determinism: every output element is written by one task; reductions over rows (norm and bias gradients,
 * embedding scatter) are partitioned over columns and run over rows in order; scalar reductions (residual gate
 * gradient, sum of squares) use fixed chunks summed in order. Results are bit-identical run to run and do not depend on
 * the thread count. No transcendental Vector API operators or float ADD reductions are used (see {@link VMath}).
 *
 * <p>Allocation: each kernel's arguments live in a preallocated job object, scratch buffers are per thread and grown
 * once per shape, so a steady-state training step allocates nothing. An instance is meant for one session (one
 * calling thread at a time); instances with the same thread count share one pool.
 */
public final class JvmOps implements Ops {
    static final VectorSpecies<Float> SP = FloatVector.SPECIES_PREFERRED;
    static final int L = SP.length();
    /** Elements per task of element-wise kernels, and per partial sum of the reductions (fixed: determinism). */
    static final int CHUNK = 16384;
    /** Columns per task of the column-partitioned reductions. */
    static final int COLS = 4 * L;

    private final WorkerPool pool;
    private final int threads;

    private final Sgemm.Job gemm = new Sgemm.Job();
    private final Attention.Forward attF = new Attention.Forward();
    private final Attention.Backward attB = new Attention.Backward();
    private final EmbedFwd embF = new EmbedFwd();
    private final EmbedBwd embB = new EmbedBwd();
    private final NormFwd normF = new NormFwd();
    private final NormBwdRows normBR = new NormBwdRows();
    private final NormBwdCols normBC = new NormBwdCols();
    private final BiasBwd biasB = new BiasBwd();
    private final Rope rope = new Rope();
    private final Elementwise ew = new Elementwise();
    private final CrossEntropy ce = new CrossEntropy();
    private final AdamWJob adam = new AdamWJob();
    private double[] partials = new double[16];

    public JvmOps() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public JvmOps(int threads) {
        this.threads = threads;
        this.pool = WorkerPool.shared(threads);
    }

    public int threads() {
        return threads;
    }

    @Override
    public String describe() {
        return describe(threads);
    }

    /** e.g. "2 threads, FloatVector 512-bit (16 lanes)". */
    public static String describe(int threads) {
        return threads + " threads, FloatVector " + SP.vectorBitSize() + "-bit (" + L + " lanes)";
    }

    private double[] partials(int n) {
        if (partials.length < n) {
            partials = new double[Math.max(n, 2 * partials.length)];
        }
        return partials;
    }

    private int rowTasks(int rows, long workPerRow) {
        // enough tasks to balance, but at least ~32K elements each so tiny ops run inline
        long total = rows * Math.max(1, workPerRow);
        int byWork = (int) Math.max(1, Math.min(4L * threads, total / 32768));
        return Math.max(1, Math.min(rows, byWork));
    }

    // ------------------------------------------------------------------ embedding

    @Override
    public void embeddingForward(float[] out, int[] tokens, float[] wte, float[] wpe, int B, int T, int C) {
        EmbedFwd j = embF;
        j.out = out;
        j.tokens = tokens;
        j.wte = wte;
        j.wpe = wpe;
        j.T = T;
        j.C = C;
        j.rows = B * T;
        j.tasks = rowTasks(j.rows, C);
        pool.run(j, j.tasks);
    }

    /** Once per step: plain loops (C2 vectorises them; rarely-run Vector API code would stay slow for long). */
    private static final class EmbedFwd extends WorkerPool.Job {
        float[] out, wte, wpe;
        int[] tokens;
        int T, C, rows, tasks;

        @Override
        public void task(int i, Scratch s) {
            int r0 = (int) ((long) rows * i / tasks);
            int r1 = (int) ((long) rows * (i + 1) / tasks);
            for (int r = r0; r < r1; r++) {
                int o = r * C;
                int tok = tokens[r] * C;
                if (wpe == null) {
                    System.arraycopy(wte, tok, out, o, C);
                } else {
                    int pos = (r % T) * C;
                    for (int c = 0; c < C; c++) {
                        out[o + c] = wte[tok + c] + wpe[pos + c];
                    }
                }
            }
        }
    }

    @Override
    public void embeddingBackward(float[] dwte, float[] dwpe, float[] dout, int[] tokens, int B, int T, int C) {
        EmbedBwd j = embB;
        j.dwte = dwte;
        j.dwpe = dwpe;
        j.dout = dout;
        j.tokens = tokens;
        j.T = T;
        j.C = C;
        j.rows = B * T;
        pool.run(j, (C + COLS - 1) / COLS);
    }

    /** Column-partitioned: each task owns COLS columns of dwte/dwpe and walks all rows in order. */
    private static final class EmbedBwd extends WorkerPool.Job {
        float[] dwte, dwpe, dout;
        int[] tokens;
        int T, C, rows;

        @Override
        public void task(int i, Scratch s) {
            int c0 = i * COLS;
            int c1 = Math.min(C, c0 + COLS);
            for (int r = 0; r < rows; r++) {
                int o = r * C;
                if (dwte != null) {
                    addRow(dwte, tokens[r] * C, dout, o, c0, c1);
                }
                if (dwpe != null) {
                    addRow(dwpe, (r % T) * C, dout, o, c0, c1);
                }
            }
        }
    }

    /** dst[d + c] += src[s + c] for c in [c0, c1) (a plain loop, see EmbedFwd). */
    static void addRow(float[] dst, int d, float[] src, int s, int c0, int c1) {
        for (int c = c0; c < c1; c++) {
            dst[d + c] += src[s + c];
        }
    }

    // ------------------------------------------------------------------ norms

    @Override
    public void layerNormForward(float[] out, float[] mean, float[] rstd, float[] inp, float[] w, float[] b, int N,
            int C, float eps) {
        normForward(true, out, mean, rstd, inp, w, b, N, C, eps);
    }

    @Override
    public void rmsNormForward(float[] out, float[] rstd, float[] inp, float[] w, int N, int C, float eps) {
        normForward(false, out, null, rstd, inp, w, null, N, C, eps);
    }

    private void normForward(boolean ln, float[] out, float[] mean, float[] rstd, float[] inp, float[] w, float[] b,
            int N, int C, float eps) {
        NormFwd j = normF;
        j.ln = ln;
        j.out = out;
        j.mean = mean;
        j.rstd = rstd;
        j.inp = inp;
        j.w = w;
        j.b = b;
        j.N = N;
        j.C = C;
        j.eps = eps;
        j.tasks = rowTasks(N, C);
        pool.run(j, j.tasks);
    }

    /**
     * One pass for the statistics: sums of (x - x0) and (x - x0)^2, shifted by the row's first value to avoid the
     * cancellation of the naive E[x^2] - E[x]^2; a second pass writes the normalised row.
     */
    private static final class NormFwd extends WorkerPool.Job {
        boolean ln;
        float[] out, mean, rstd, inp, w, b;
        int N, C, tasks;
        float eps;

        @Override
        public void task(int i, Scratch s) {
            int r0 = (int) ((long) N * i / tasks);
            int r1 = (int) ((long) N * (i + 1) / tasks);
            int bound = SP.loopBound(C);
            float[] tmp = s.get(Scratch.LANES, 2 * L);
            for (int r = r0; r < r1; r++) {
                int o = r * C;
                float shift = ln ? inp[o] : 0f;
                FloatVector sh = FloatVector.broadcast(SP, shift);
                FloatVector s1a = FloatVector.zero(SP), s1b = s1a, s2a = s1a, s2b = s1a;
                int c = 0;
                for (; c + 2 * L <= bound; c += 2 * L) {
                    FloatVector x0 = FloatVector.fromArray(SP, inp, o + c).sub(sh);
                    FloatVector x1 = FloatVector.fromArray(SP, inp, o + c + L).sub(sh);
                    s1a = x0.add(s1a);
                    s1b = x1.add(s1b);
                    s2a = x0.fma(x0, s2a);
                    s2b = x1.fma(x1, s2b);
                }
                if (c < C) {
                    for (; c < C; c += L) {
                        VectorMask<Float> m = SP.indexInRange(c, C);
                        FloatVector x0 = FloatVector.fromArray(SP, inp, o + c, m).sub(sh, m);
                        s1a = x0.add(s1a);
                        s2a = x0.fma(x0, s2a);
                    }
                }
                float invC = 1f / C;
                s1a.add(s1b).intoArray(tmp, 0);
                s2a.add(s2b).intoArray(tmp, L);
                float m1 = VMath.sumLanes(tmp, 0) * invC;
                float m2 = VMath.sumLanes(tmp, L) * invC;
                float mu;
                float sc;
                if (ln) {
                    float var = Math.max(0f, m2 - m1 * m1);
                    mu = shift + m1;
                    sc = (float) (1.0 / Math.sqrt(var + eps));
                    mean[r] = mu;
                } else {
                    mu = 0f;
                    sc = (float) (1.0 / Math.sqrt(m2 + eps));
                }
                rstd[r] = sc;
                FloatVector vmu = FloatVector.broadcast(SP, mu);
                FloatVector vs = FloatVector.broadcast(SP, sc);
                c = 0;
                for (; c < bound; c += L) {
                    FloatVector xh = FloatVector.fromArray(SP, inp, o + c).sub(vmu).mul(vs);
                    FloatVector y = b != null
                            ? xh.fma(FloatVector.fromArray(SP, w, c), FloatVector.fromArray(SP, b, c))
                            : xh.mul(FloatVector.fromArray(SP, w, c));
                    y.intoArray(out, o + c);
                }
                for (; c < C; c++) {
                    float xh = (inp[o + c] - mu) * sc;
                    out[o + c] = b != null ? Math.fma(xh, w[c], b[c]) : xh * w[c];
                }
            }
        }
    }

    @Override
    public void layerNormBackward(float[] dinp, float[] dw, float[] db, float[] dout, float[] inp, float[] w,
            float[] mean, float[] rstd, int N, int C) {
        normBackward(true, dinp, dw, db, dout, inp, w, mean, rstd, N, C);
    }

    @Override
    public void rmsNormBackward(float[] dinp, float[] dw, float[] dout, float[] inp, float[] w, float[] rstd, int N,
            int C) {
        normBackward(false, dinp, dw, null, dout, inp, w, null, rstd, N, C);
    }

    private void normBackward(boolean ln, float[] dinp, float[] dw, float[] db, float[] dout, float[] inp, float[] w,
            float[] mean, float[] rstd, int N, int C) {
        if (dinp != null) {
            NormBwdRows j = normBR;
            j.ln = ln;
            j.dinp = dinp;
            j.dout = dout;
            j.inp = inp;
            j.w = w;
            j.mean = mean;
            j.rstd = rstd;
            j.N = N;
            j.C = C;
            j.tasks = rowTasks(N, C);
            pool.run(j, j.tasks);
        }
        if (dw != null || db != null) {
            NormBwdCols j = normBC;
            j.ln = ln;
            j.dw = dw;
            j.db = db;
            j.dout = dout;
            j.inp = inp;
            j.mean = mean;
            j.rstd = rstd;
            j.N = N;
            j.C = C;
            pool.run(j, (C + COLS - 1) / COLS);
        }
    }

    /** dinp += rstd (g - mean(g) - xhat mean(g xhat)), g = dout w (rmsnorm: without the mean(g) term). */
    private static final class NormBwdRows extends WorkerPool.Job {
        boolean ln;
        float[] dinp, dout, inp, w, mean, rstd;
        int N, C, tasks;

        @Override
        public void task(int i, Scratch s) {
            int r0 = (int) ((long) N * i / tasks);
            int r1 = (int) ((long) N * (i + 1) / tasks);
            int bound = SP.loopBound(C);
            float invC = 1f / C;
            float[] tmp = s.get(Scratch.LANES, 2 * L);
            for (int r = r0; r < r1; r++) {
                int o = r * C;
                float mu = ln ? mean[r] : 0f;
                float rs = rstd[r];
                FloatVector vmu = FloatVector.broadcast(SP, mu);
                FloatVector vrs = FloatVector.broadcast(SP, rs);
                FloatVector sg = FloatVector.zero(SP), sgx = sg;
                int c = 0;
                for (; c < bound; c += L) {
                    FloatVector xh = FloatVector.fromArray(SP, inp, o + c).sub(vmu).mul(vrs);
                    FloatVector g = FloatVector.fromArray(SP, dout, o + c).mul(FloatVector.fromArray(SP, w, c));
                    sg = g.add(sg);
                    sgx = g.fma(xh, sgx);
                }
                if (c < C) {
                    VectorMask<Float> m = SP.indexInRange(c, C);
                    FloatVector xh = FloatVector.fromArray(SP, inp, o + c, m).sub(vmu).mul(vrs);
                    FloatVector g = FloatVector.fromArray(SP, dout, o + c, m).mul(FloatVector.fromArray(SP, w, c, m));
                    sg = g.add(sg);
                    sgx = g.fma(xh, sgx);
                }
                sg.intoArray(tmp, 0);
                sgx.intoArray(tmp, L);
                float mg = ln ? VMath.sumLanes(tmp, 0) * invC : 0f;
                float mgx = VMath.sumLanes(tmp, L) * invC;
                FloatVector vmg = FloatVector.broadcast(SP, mg);
                FloatVector vmgx = FloatVector.broadcast(SP, mgx);
                c = 0;
                for (; c < bound; c += L) {
                    FloatVector xh = FloatVector.fromArray(SP, inp, o + c).sub(vmu).mul(vrs);
                    FloatVector g = FloatVector.fromArray(SP, dout, o + c).mul(FloatVector.fromArray(SP, w, c));
                    FloatVector d = g.sub(vmg).sub(xh.mul(vmgx)).mul(vrs);
                    FloatVector.fromArray(SP, dinp, o + c).add(d).intoArray(dinp, o + c);
                }
                for (; c < C; c++) {
                    float xh = (inp[o + c] - mu) * rs;
                    float g = dout[o + c] * w[c];
                    dinp[o + c] += (g - mg - xh * mgx) * rs;
                }
            }
        }
    }

    /** dw += sum_n dout xhat, db += sum_n dout: each task owns COLS columns, rows summed in order. */
    private static final class NormBwdCols extends WorkerPool.Job {
        boolean ln;
        float[] dw, db, dout, inp, mean, rstd;
        int N, C;

        @Override
        public void task(int i, Scratch s) {
            int c0 = i * COLS;
            int c1 = Math.min(C, c0 + COLS);
            for (int c = c0; c < c1; c += L) {
                VectorMask<Float> m = SP.indexInRange(c, c1);
                FloatVector aw = FloatVector.zero(SP), ab = aw;
                for (int r = 0; r < N; r++) {
                    int o = r * C + c;
                    FloatVector d = FloatVector.fromArray(SP, dout, o, m);
                    FloatVector x = FloatVector.fromArray(SP, inp, o, m);
                    if (ln) {
                        x = x.sub(mean[r]);
                    }
                    aw = d.fma(x.mul(rstd[r]), aw);
                    ab = d.add(ab);
                }
                if (dw != null) {
                    FloatVector.fromArray(SP, dw, c, m).add(aw).intoArray(dw, c, m);
                }
                if (db != null) {
                    FloatVector.fromArray(SP, db, c, m).add(ab).intoArray(db, c, m);
                }
            }
        }
    }

    // ------------------------------------------------------------------ matmul

    @Override
    public void matmulForward(float[] out, float[] inp, float[] weight, float[] bias, int N, int C, int OC) {
        // out (N,OC) = inp (N,C) . W^T: A = inp rows, B(k=c, j=o) = W[o][c]
        Sgemm.Job j = gemm.set(inp, C, 1, weight, 1, C, out, OC, bias, false, N, C, OC);
        pool.run(j, j.prepare(threads));
    }

    @Override
    public void matmulBackward(float[] dinp, float[] dweight, float[] dbias, float[] dout, float[] inp,
            float[] weight, int N, int C, int OC) {
        if (dinp != null) {
            // dinp (N,C) += dout (N,OC) . W (OC,C)
            Sgemm.Job j = gemm.set(dout, OC, 1, weight, C, 1, dinp, C, null, true, N, OC, C);
            pool.run(j, j.prepare(threads));
        }
        if (dweight != null) {
            // dW (OC,C) += dout^T (OC,N) . inp (N,C): A(i=o, k=n) = dout[n][o]
            Sgemm.Job j = gemm.set(dout, 1, OC, inp, C, 1, dweight, C, null, true, OC, N, C);
            pool.run(j, j.prepare(threads));
        }
        if (dbias != null) {
            BiasBwd j = biasB;
            j.db = dbias;
            j.dout = dout;
            j.N = N;
            j.OC = OC;
            pool.run(j, (OC + COLS - 1) / COLS);
        }
    }

    private static final class BiasBwd extends WorkerPool.Job {
        float[] db, dout;
        int N, OC;

        @Override
        public void task(int i, Scratch s) {
            int c0 = i * COLS;
            int c1 = Math.min(OC, c0 + COLS);
            for (int c = c0; c < c1; c += L) {
                VectorMask<Float> m = SP.indexInRange(c, c1);
                FloatVector acc = FloatVector.zero(SP);
                for (int r = 0; r < N; r++) {
                    acc = FloatVector.fromArray(SP, dout, r * OC + c, m).add(acc);
                }
                FloatVector.fromArray(SP, db, c, m).add(acc).intoArray(db, c, m);
            }
        }
    }

    // ------------------------------------------------------------------ rope

    private float[] ropeCos = new float[0];
    private float[] ropeSin = new float[0];
    private int ropeT = -1;
    private int ropeHd = -1;
    private double ropeTheta = Double.NaN;

    private void ropeTables(int T, int hd, double theta) {
        if (T == ropeT && hd == ropeHd && theta == ropeTheta) {
            return;
        }
        int half = hd / 2;
        ropeCos = new float[T * half];
        ropeSin = new float[T * half];
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < half; j++) {
                // StrictMath: the same bits whether this runs interpreted or compiled
                double angle = t * StrictMath.pow(theta, -2.0 * j / hd);
                ropeCos[t * half + j] = (float) StrictMath.cos(angle);
                ropeSin[t * half + j] = (float) StrictMath.sin(angle);
            }
        }
        ropeT = T;
        ropeHd = hd;
        ropeTheta = theta;
    }

    @Override
    public void ropeForward(float[] qkv, int B, int T, int nh, int nkv, int hd, double theta) {
        rope(qkv, B, T, nh, nkv, hd, theta, false);
    }

    @Override
    public void ropeBackward(float[] dqkv, int B, int T, int nh, int nkv, int hd, double theta) {
        rope(dqkv, B, T, nh, nkv, hd, theta, true);
    }

    private void rope(float[] x, int B, int T, int nh, int nkv, int hd, double theta, boolean transposed) {
        ropeTables(T, hd, theta);
        Rope j = rope;
        j.x = x;
        j.cos = ropeCos;
        j.sin = ropeSin;
        j.T = T;
        j.heads = nh + nkv;
        j.hd = hd;
        j.width = (nh + 2 * nkv) * hd;
        j.rows = B * T;
        j.transposed = transposed;
        j.tasks = rowTasks(j.rows, (long) j.heads * hd);
        pool.run(j, j.tasks);
    }

    private static final class Rope extends WorkerPool.Job {
        float[] x, cos, sin;
        int T, heads, hd, width, rows, tasks;
        boolean transposed;

        @Override
        public void task(int i, Scratch s) {
            int r0 = (int) ((long) rows * i / tasks);
            int r1 = (int) ((long) rows * (i + 1) / tasks);
            int half = hd / 2;
            for (int r = r0; r < r1; r++) {
                int tab = (r % T) * half;
                for (int h = 0; h < heads; h++) {
                    int base = r * width + h * hd;
                    for (int j = 0; j < half; j += L) {
                        VectorMask<Float> m = SP.indexInRange(j, half);
                        FloatVector a = FloatVector.fromArray(SP, x, base + j, m);
                        FloatVector c = FloatVector.fromArray(SP, x, base + half + j, m);
                        FloatVector cs = FloatVector.fromArray(SP, cos, tab + j, m);
                        FloatVector sn = FloatVector.fromArray(SP, sin, tab + j, m);
                        if (transposed) {
                            sn = sn.neg();
                        }
                        a.mul(cs).sub(c.mul(sn)).intoArray(x, base + j, m);
                        c.mul(cs).add(a.mul(sn)).intoArray(x, base + half + j, m);
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ attention

    @Override
    public long attentionStateSize(int B, int T, int nh) {
        return (long) B * nh * T;
    }

    @Override
    public void attentionForward(float[] out, float[] state, float[] qkv, int B, int T, int nh, int nkv, int hd) {
        Attention.Forward j = attF;
        pool.run(j, j.set(out, state, qkv, B, T, nh, nkv, hd));
    }

    @Override
    public void attentionBackward(float[] dqkv, float[] dout, float[] qkv, float[] out, float[] state, int B, int T,
            int nh, int nkv, int hd) {
        Attention.Backward j = attB;
        pool.run(j, j.set(dqkv, dout, qkv, out, state, B, T, nh, nkv, hd));
    }

    // ------------------------------------------------------------------ element-wise

    private static final int GELU_F = 0;
    private static final int GELU_B = 1;
    private static final int SWIGLU_F = 2;
    private static final int SWIGLU_B = 3;
    private static final int RESID_F = 4;
    private static final int RESID_B = 5;
    private static final int SUMSQ = 6;

    private void elementwise(int kind, float[] o1, float[] o2, float[] a, float[] b, float alpha, float gate, int n,
            int rowLen) {
        Elementwise j = ew;
        j.kind = kind;
        j.o1 = o1;
        j.o2 = o2;
        j.a = a;
        j.b = b;
        j.alpha = alpha;
        j.gate = gate;
        j.n = n;
        j.rowLen = rowLen;
        int tasks = (n + CHUNK - 1) / CHUNK;
        if (kind == RESID_B || kind == SUMSQ) {
            j.partials = partials(tasks);
        }
        pool.run(j, tasks);
    }

    @Override
    public void geluForward(float[] out, float[] inp, int n) {
        elementwise(GELU_F, out, null, inp, null, 0f, 0f, n, 0);
    }

    @Override
    public void geluBackward(float[] dinp, float[] inp, float[] dout, int n) {
        elementwise(GELU_B, dinp, null, inp, dout, 0f, 0f, n, 0);
    }

    @Override
    public void swigluForward(float[] out, float[] inp, int N, int F) {
        elementwise(SWIGLU_F, out, null, inp, null, 0f, 0f, N * F, F);
    }

    @Override
    public void swigluBackward(float[] dinp, float[] inp, float[] dout, int N, int F) {
        elementwise(SWIGLU_B, dinp, null, inp, dout, 0f, 0f, N * F, F);
    }

    @Override
    public void residualForward(float[] out, float[] skip, float alpha, float[] branch, float gate, int n) {
        elementwise(RESID_F, out, null, skip, branch, alpha, gate, n, 0);
    }

    @Override
    public double residualBackward(float[] dskip, float[] dbranch, float[] dout, float alpha, float[] branch,
            float gate, int n) {
        elementwise(RESID_B, dskip, dbranch, dout, branch, alpha, gate, n, 0);
        return sumPartials((n + CHUNK - 1) / CHUNK);
    }

    @Override
    public double sumSquares(float[] g, int n) {
        elementwise(SUMSQ, null, null, g, null, 0f, 0f, n, 0);
        return sumPartials((n + CHUNK - 1) / CHUNK);
    }

    private double sumPartials(int tasks) {
        double s = 0;
        for (int i = 0; i < tasks; i++) {
            s += partials[i];
        }
        return s;
    }

    private static final float GELU_K = (float) Math.sqrt(2.0 / Math.PI);
    private static final float GELU_C = 0.044715f;

    /** Element-wise kernels over fixed chunks of CHUNK elements (partial sums per chunk, summed in order). */
    private static final class Elementwise extends WorkerPool.Job {
        int kind;
        float[] o1, o2, a, b;
        float alpha, gate;
        int n, rowLen;
        double[] partials;

        @Override
        public void task(int t, Scratch s) {
            int i0 = t * CHUNK;
            int i1 = Math.min(n, i0 + CHUNK);
            switch (kind) {
                case GELU_F -> geluF(i0, i1);
                case GELU_B -> geluB(i0, i1);
                case SWIGLU_F -> swiglu(i0, i1, false);
                case SWIGLU_B -> swiglu(i0, i1, true);
                case RESID_F -> residF(i0, i1);
                case RESID_B -> partials[t] = residB(i0, i1, s.get(Scratch.LANES, L));
                case SUMSQ -> partials[t] = sumSq(i0, i1, s.get(Scratch.LANES, L));
                default -> throw new IllegalStateException();
            }
        }

        // gelu(x) = 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = K (x + 0.044715 x^3)
        private void geluF(int i0, int i1) {
            int i = i0;
            for (; i < i1; i += L) {
                VectorMask<Float> m = SP.indexInRange(i, i1);
                FloatVector x = FloatVector.fromArray(SP, a, i, m);
                FloatVector u2 = x.mul(x).fma(FloatVector.broadcast(SP, GELU_C), FloatVector.broadcast(SP, 1f))
                        .mul(x).mul(2f * GELU_K);
                x.mul(VMath.sigmoid(u2)).intoArray(o1, i, m);
            }
        }

        // d gelu/dx = s + x s (1 - s) 2K (1 + 3c x^2), s = sigmoid(2u)
        private void geluB(int i0, int i1) {
            int i = i0;
            for (; i < i1; i += L) {
                VectorMask<Float> m = SP.indexInRange(i, i1);
                FloatVector x = FloatVector.fromArray(SP, a, i, m);
                FloatVector x2 = x.mul(x);
                FloatVector u2 = x2.fma(FloatVector.broadcast(SP, GELU_C), FloatVector.broadcast(SP, 1f))
                        .mul(x).mul(2f * GELU_K);
                FloatVector sg = VMath.sigmoid(u2);
                FloatVector du = x2.fma(FloatVector.broadcast(SP, 3f * GELU_C), FloatVector.broadcast(SP, 1f))
                        .mul(2f * GELU_K);
                FloatVector grad = x.mul(sg).mul(sg.neg().add(1f)).fma(du, sg);
                FloatVector d = FloatVector.fromArray(SP, b, i, m);
                grad.fma(d, FloatVector.fromArray(SP, o1, i, m)).intoArray(o1, i, m);
            }
        }

        // element index e = r*F + f of out; gate at r*2F + f, up at r*2F + F + f
        private void swiglu(int i0, int i1, boolean backward) {
            int F = rowLen;
            int e = i0;
            while (e < i1) {
                int r = e / F;
                int f0 = e - r * F;
                int f1 = Math.min(F, f0 + (i1 - e));
                int gb = r * 2 * F;
                for (int f = f0; f < f1; f += L) {
                    VectorMask<Float> m = SP.indexInRange(f, f1);
                    FloatVector g = FloatVector.fromArray(SP, a, gb + f, m);
                    FloatVector u = FloatVector.fromArray(SP, a, gb + F + f, m);
                    FloatVector sg = VMath.sigmoid(g);
                    FloatVector silu = g.mul(sg);
                    if (!backward) {
                        silu.mul(u).intoArray(o1, r * F + f, m);
                    } else {
                        FloatVector dy = FloatVector.fromArray(SP, b, r * F + f, m);
                        // dg = dy u sg (1 + g (1 - sg)), du = dy silu
                        FloatVector dg = dy.mul(u).mul(sg).mul(g.mul(sg.neg().add(1f)).add(1f));
                        FloatVector.fromArray(SP, o1, gb + f, m).add(dg).intoArray(o1, gb + f, m);
                        dy.fma(silu, FloatVector.fromArray(SP, o1, gb + F + f, m)).intoArray(o1, gb + F + f, m);
                    }
                }
                e += f1 - f0;
            }
        }

        private void residF(int i0, int i1) {
            FloatVector va = FloatVector.broadcast(SP, alpha);
            FloatVector vg = FloatVector.broadcast(SP, gate);
            int bound = i0 + SP.loopBound(i1 - i0);
            int i = i0;
            if (alpha == 1f && gate == 1f) {
                for (; i < bound; i += L) {
                    FloatVector.fromArray(SP, a, i).add(FloatVector.fromArray(SP, b, i)).intoArray(o1, i);
                }
                for (; i < i1; i++) {
                    o1[i] = a[i] + b[i];
                }
                return;
            }
            for (; i < bound; i += L) {
                FloatVector.fromArray(SP, b, i).mul(vg).add(FloatVector.fromArray(SP, a, i).mul(va)).intoArray(o1, i);
            }
            for (; i < i1; i++) {
                o1[i] = b[i] * gate + a[i] * alpha;
            }
        }

        // o1 = dskip +=, o2 = dbranch +=, a = dout, b = branch; returns sum(dout * branch) of the chunk
        private double residB(int i0, int i1, float[] tmp) {
            FloatVector va = FloatVector.broadcast(SP, alpha);
            FloatVector vg = FloatVector.broadcast(SP, gate);
            FloatVector acc = FloatVector.zero(SP);
            int bound = i0 + SP.loopBound(i1 - i0);
            int i = i0;
            for (; i < bound; i += L) {
                FloatVector d = FloatVector.fromArray(SP, a, i);
                if (o1 != null) {
                    d.fma(va, FloatVector.fromArray(SP, o1, i)).intoArray(o1, i);
                }
                if (o2 != null) {
                    d.fma(vg, FloatVector.fromArray(SP, o2, i)).intoArray(o2, i);
                }
                acc = d.fma(FloatVector.fromArray(SP, b, i), acc);
            }
            acc.intoArray(tmp, 0);
            double sum = VMath.sumLanes(tmp, 0);
            for (; i < i1; i++) {
                if (o1 != null) {
                    o1[i] = Math.fma(a[i], alpha, o1[i]);
                }
                if (o2 != null) {
                    o2[i] = Math.fma(a[i], gate, o2[i]);
                }
                sum += (double) a[i] * b[i];
            }
            return sum;
        }

        private double sumSq(int i0, int i1, float[] tmp) {
            // float accumulators over blocks of 64 elements, each block's sum added in double
            double sum = 0;
            int i = i0;
            int bound = i0 + (i1 - i0) / (4 * L) * (4 * L);
            while (i < bound) {
                int blockEnd = Math.min(bound, i + 64 * L);
                FloatVector a0 = FloatVector.zero(SP), a1 = a0, a2 = a0, a3 = a0;
                for (; i < blockEnd; i += 4 * L) {
                    FloatVector x0 = FloatVector.fromArray(SP, a, i);
                    FloatVector x1 = FloatVector.fromArray(SP, a, i + L);
                    FloatVector x2 = FloatVector.fromArray(SP, a, i + 2 * L);
                    FloatVector x3 = FloatVector.fromArray(SP, a, i + 3 * L);
                    a0 = x0.fma(x0, a0);
                    a1 = x1.fma(x1, a1);
                    a2 = x2.fma(x2, a2);
                    a3 = x3.fma(x3, a3);
                }
                a0.add(a1).add(a2.add(a3)).intoArray(tmp, 0);
                sum += VMath.sumLanes(tmp, 0);
            }
            for (; i < i1; i++) {
                sum += (double) a[i] * a[i];
            }
            return sum;
        }
    }

    // ------------------------------------------------------------------ cross-entropy

    @Override
    public double crossEntropyForward(float[] losses, float[] probs, float[] logits, int[] targets, int N, int V) {
        CrossEntropy j = ce;
        j.backward = false;
        j.losses = losses;
        j.probs = probs;
        j.logits = logits;
        j.targets = targets;
        j.N = N;
        j.V = V;
        j.tasks = rowTasks(N, V);
        pool.run(j, j.tasks);
        double total = 0;
        for (int n = 0; n < N; n++) {
            total += losses[n];
        }
        return total / N;
    }

    @Override
    public void crossEntropyBackward(float[] dlogits, float[] probs, int[] targets, int N, int V) {
        CrossEntropy j = ce;
        j.backward = true;
        j.dlogits = dlogits;
        j.probs = probs;
        j.targets = targets;
        j.N = N;
        j.V = V;
        j.tasks = rowTasks(N, V);
        pool.run(j, j.tasks);
    }

    /** Fused softmax + loss per row (max, exp and sum in one pass over the row's exps, then one scaling pass). */
    private static final class CrossEntropy extends WorkerPool.Job {
        boolean backward;
        float[] losses, probs, logits, dlogits;
        int[] targets;
        int N, V, tasks;

        @Override
        public void task(int i, Scratch s) {
            int r0 = (int) ((long) N * i / tasks);
            int r1 = (int) ((long) N * (i + 1) / tasks);
            float[] tmp = s.get(Scratch.LANES, L);
            for (int r = r0; r < r1; r++) {
                if (backward) {
                    backwardRow(r);
                } else {
                    forwardRow(r, tmp);
                }
            }
        }

        private void forwardRow(int r, float[] tmp) {
            int o = r * V;
            int bound = SP.loopBound(V);
            FloatVector mx = FloatVector.broadcast(SP, Float.NEGATIVE_INFINITY);
            int v = 0;
            for (; v < bound; v += L) {
                mx = FloatVector.fromArray(SP, logits, o + v).max(mx);
            }
            float max = mx.reduceLanes(VectorOperators.MAX);
            for (; v < V; v++) {
                max = Math.max(max, logits[o + v]);
            }
            FloatVector vmax = FloatVector.broadcast(SP, max);
            FloatVector sum = FloatVector.zero(SP);
            v = 0;
            for (; v < bound; v += L) {
                FloatVector e = VMath.exp(FloatVector.fromArray(SP, logits, o + v).sub(vmax));
                sum = e.add(sum);
                e.intoArray(probs, o + v);
            }
            sum.intoArray(tmp, 0);
            float total = VMath.sumLanes(tmp, 0);
            for (; v < V; v++) {
                float e = VMath.exp(logits[o + v] - max);
                total += e;
                probs[o + v] = e;
            }
            float inv = 1f / total;
            FloatVector vinv = FloatVector.broadcast(SP, inv);
            v = 0;
            for (; v < bound; v += L) {
                FloatVector.fromArray(SP, probs, o + v).mul(vinv).intoArray(probs, o + v);
            }
            for (; v < V; v++) {
                probs[o + v] *= inv;
            }
            losses[r] = (float) (StrictMath.log(total) + max - logits[o + targets[r]]);
        }

        private void backwardRow(int r) {
            int o = r * V;
            float inv = 1f / N;
            FloatVector vinv = FloatVector.broadcast(SP, inv);
            int bound = SP.loopBound(V);
            int v = 0;
            for (; v < bound; v += L) {
                FloatVector.fromArray(SP, probs, o + v).fma(vinv, FloatVector.fromArray(SP, dlogits, o + v))
                        .intoArray(dlogits, o + v);
            }
            for (; v < V; v++) {
                dlogits[o + v] = Math.fma(probs[o + v], inv, dlogits[o + v]);
            }
            dlogits[o + targets[r]] -= inv;
        }
    }

    // ------------------------------------------------------------------ AdamW

    @Override
    public void adamw(float[] p, float[] g, float[] m, float[] v, int n, float lr, float b1, float b2, float eps,
            float wd, int t, float gradScale) {
        AdamWJob j = adam;
        j.p = p;
        j.g = g;
        j.m = m;
        j.v = v;
        j.n = n;
        j.lr = lr;
        j.b1 = b1;
        j.b2 = b2;
        j.eps = eps;
        j.wd = wd;
        j.gradScale = gradScale;
        j.invC1 = (float) (1.0 / (1.0 - StrictMath.pow(b1, t)));
        j.invC2 = (float) (1.0 / (1.0 - StrictMath.pow(b2, t)));
        pool.run(j, (n + CHUNK - 1) / CHUNK);
    }

    private static final class AdamWJob extends WorkerPool.Job {
        float[] p, g, m, v;
        int n;
        float lr, b1, b2, eps, wd, gradScale, invC1, invC2;

        @Override
        public void task(int t, Scratch s) {
            int i0 = t * CHUNK;
            int i1 = Math.min(n, i0 + CHUNK);
            FloatVector vb1 = FloatVector.broadcast(SP, b1);
            FloatVector vb2 = FloatVector.broadcast(SP, b2);
            FloatVector va1 = FloatVector.broadcast(SP, 1f - b1);
            FloatVector va2 = FloatVector.broadcast(SP, 1f - b2);
            FloatVector vgs = FloatVector.broadcast(SP, gradScale);
            FloatVector vc1 = FloatVector.broadcast(SP, invC1);
            FloatVector vc2 = FloatVector.broadcast(SP, invC2);
            FloatVector veps = FloatVector.broadcast(SP, eps);
            FloatVector vwd = FloatVector.broadcast(SP, wd);
            FloatVector vlr = FloatVector.broadcast(SP, -lr);
            for (int i = i0; i < i1; i += L) {
                VectorMask<Float> k = SP.indexInRange(i, i1);
                FloatVector gr = FloatVector.fromArray(SP, g, i, k).mul(vgs);
                FloatVector mi = FloatVector.fromArray(SP, m, i, k).mul(vb1).add(gr.mul(va1));
                FloatVector vi = FloatVector.fromArray(SP, v, i, k).mul(vb2).add(gr.mul(gr).mul(va2));
                mi.intoArray(m, i, k);
                vi.intoArray(v, i, k);
                FloatVector pi = FloatVector.fromArray(SP, p, i, k);
                FloatVector upd = mi.mul(vc1).div(vi.mul(vc2).sqrt().add(veps)).add(pi.mul(vwd));
                upd.fma(vlr, pi).intoArray(p, i, k);
            }
        }
    }
}
