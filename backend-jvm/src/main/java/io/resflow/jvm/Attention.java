package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Causal multi-head attention with grouped kv heads (the jvm kernels of {@link io.resflow.reference.Attention}),
 * blocked like flash attention: queries in blocks of {@link #QB} rows, every product on the GEMM's register-tiled
 * micro-kernel ({@link MicroKernel#kernel}), and nothing of size T x T kept: the forward keeps only the log-sum-exp per
 * (b, h, t) for the backward, which recomputes the probabilities.
 *
 * <pre>
 * forward, per (b, h), per query block Qb (QB x hd), keys 0 .. t1 (the block's last query; causal):
 *   S = Qb K^T / sqrt(hd)        (QB x t1)  micro-kernel, A = Qb rows, B = K^T panels (packed once per task)
 *   P = softmax_row(S), keys > t masked; lse = max + log(sum)
 *   O_b = P V                    (QB x hd)  micro-kernel, A = P rows, B = V row panels
 * backward, per (b, kv head g) (the single writer of dK, dV of g and dQ of its query heads), per head, per block:
 *   S recomputed, P = exp(S - lse); dP = dO_b V^T; dS = P (dP - D) / sqrt(hd), D = rowsum(dO_b * O_b)
 *   dQ_b += dS K;   dK += dS^T Q_b;   dV += P^T dO_b
 * </pre>
 * Up to {@link #KEEP_P_MAX_T} positions the probabilities are kept as state too and the backward starts from them.
 * A block's scores are QB x t1 floats (QB = 4 register tiles of rows: 24 on AVX2, 16 with 32 registers), so for
 * T = 1024 they stay in L2. The diagonal blocks compute the masked upper triangle too, and keys run to whole panels
 * (the price of whole tiles): at T = 64 the products cost about 1.5 times the causal count, at T = 1024 about 3% more
 * (benchmarks count the causal FLOPs only).
 *
 * <p>Layouts: "transposed panels" of a T x hd matrix X are [panel p][d][NR keys] (the B of q k^T, kc = hd); "row
 * panels" are [panel q][row s][NR columns of hd] (the B of P V, kc = keys). Keys past the valid ones and columns
 * past hd are zero in the panels, and probabilities past the causal limit are written as zero, so whole tiles can run.
 * Determinism: fixed blocks, one writer per output, lanes summed in index order.
 */
final class Attention extends JvmOp {
    private static final int MR = Sgemm.MR;
    private static final int NR = Sgemm.NR;
    /** Query rows per block: 64, rounded up to whole register tiles of rows. */
    static final int QB = roundUp(64, MR);

    private final Forward fwd = new Forward();
    private final Backward bwd = new Backward();

    Attention(Exec x) {
        super(x);
    }

    /**
     * Up to this sequence length the forward also keeps the probabilities (B x nh x T x T floats, no more than the
     * layer's q|k|v for heads of 64 or more), so the backward skips recomputing the scores and their exponentials:
     * at T = 64 that is a fifth of the backward's work. Longer sequences keep only the log-sum-exp.
     */
    static final int KEEP_P_MAX_T = 128;

    /**
     * Floats of state kept for the backward: the log-sum-exp per (b, h, t), then the probabilities when kept (whole
     * rows of T, zero past the causal limit, so the backward reads them in place), then {@link #P_PAD} floats that
     * whole register tiles and vectors may read past the last row (their lanes are discarded).
     */
    static long stateSize(int B, int T, int nh) {
        long lse = (long) B * nh * T;
        return T <= KEEP_P_MAX_T ? lse + lse * T + P_PAD : lse;
    }

    /** Floats after the kept probabilities: a register tile of keys and a vector. */
    static final int P_PAD = MR + L;

    // qkv (B,T,(nh+2 nkv) hd) -> out (B,T,nh hd), state (B,nh,T) = log-sum-exp; query head h reads kv head h/(nh/nkv)
    void forward(float[] out, float[] state, float[] qkv, int B, int T, int nh, int nkv, int hd) {
        x.run(fwd, fwd.set(out, state, qkv, B, T, nh, nkv, hd));
    }

    // dout (B,T,nh hd) -> dqkv (B,T,(nh+2 nkv) hd) += (add false: =, each tile stored on its first visit)
    void backward(float[] dqkv, float[] dout, float[] qkv, float[] out, float[] state, int B, int T, int nh, int nkv,
            int hd, boolean add) {
        x.run(bwd, bwd.set(dqkv, dout, qkv, out, state, B, T, nh, nkv, hd, add));
    }

    static int roundUp(int v, int r) {
        return (v + r - 1) / r * r;
    }

    /** Keys the row tile at r0 of the block at t0 can see: up to its last query, inclusive (the k of P V and dS K). */
    static int tileSeen(int t0, int r0, int rows) {
        return t0 + Math.min(r0 + MR, rows);
    }

    /** The same in whole key panels (the columns of q k^T, whose keys run along the vectors). */
    static int tileKeys(int t0, int r0, int rows) {
        return roundUp(tileSeen(t0, r0, rows), NR);
    }

    /** Sizes shared by both passes. */
    private abstract static class Shape extends WorkerPool.Job {
        float[] qkv, state;
        int B, T, nh, nkv, hd, width, tp, tq, hdp, np, nq;
        float scale;
        boolean keepP;

        void shape(float[] qkv, float[] state, int B, int T, int nh, int nkv, int hd) {
            this.qkv = qkv;
            this.state = state;
            this.B = B;
            this.T = T;
            this.nh = nh;
            this.nkv = nkv;
            this.hd = hd;
            this.width = (nh + 2 * nkv) * hd;
            this.tp = roundUp(T, NR); // keys, padded to whole panels
            this.tq = roundUp(tp, MR); // row stride of the score blocks: whole row tiles of keys fit (dK, dV)
            this.hdp = roundUp(hd, NR);
            this.np = tp / NR;
            this.nq = hdp / NR;
            this.scale = (float) (1.0 / Math.sqrt(hd));
            this.keepP = T <= KEEP_P_MAX_T;
        }

        /** Where row t of head (b, h)'s probabilities is kept (after the B nh T log-sum-exps). */
        int pRow(int b, int h, int t) {
            return B * nh * T + ((b * nh + h) * T + t) * T;
        }

        /**
         * The rows of a partial row tile r0 (rows r0 .. rows-1; row r at a[ao + r*lda]) copied into tail (MR x hd),
         * zero past the last. Whole tiles are read in place: that spares a copy of every block of Q and dO (at T = 64
         * the copies took a tenth of the attention's time, the same cache misses paid twice).
         */
        void tailRows(float[] a, int ao, int lda, int r0, int rows, float[] tail) {
            for (int r = 0; r < MR; r++) {
                if (r0 + r < rows) {
                    System.arraycopy(a, ao + (r0 + r) * lda, tail, r * hd, hd);
                } else {
                    java.util.Arrays.fill(tail, r * hd, r * hd + hd, 0f);
                }
            }
        }

        /**
         * S (QB x tq) = f * A_b B^T: A_b the block's rows (row r at a[ao + r*lda], r < rows), bT transposed panels; for
         * each row tile only the key panels its last query can see ({@link #tileKeys}).
         */
        void scores(float[] a, int ao, int lda, float[] tail, float[] bT, int t0, int rows, float[] s, float[] tile,
                float f) {
            for (int r0 = 0; r0 < rows; r0 += MR) {
                boolean whole = r0 + MR <= rows;
                if (!whole) {
                    tailRows(a, ao, lda, r0, rows, tail);
                }
                float[] ta = whole ? a : tail;
                int tao = whole ? ao + r0 * lda : 0;
                int tld = whole ? lda : hd;
                int seen = tileSeen(t0, r0, rows);
                int panels = tileKeys(t0, r0, rows) / NR;
                for (int p = 0; p < panels; p++) {
                    // the last panel of a diagonal tile: its right half may be beyond every row's keys
                    boolean half = p == panels - 1 && seen - p * NR <= NR / 2;
                    if (half) {
                        MicroKernel.kernelHalf(ta, tao, tld, 1, bT, p * hd * NR, hd, tile);
                    } else {
                        MicroKernel.kernel(ta, tao, tld, 1, bT, p * hd * NR, hd, tile);
                    }
                    int o = r0 * tq + p * NR;
                    int w = half ? NR / 2 : NR;
                    for (int r = 0; r < MR; r++) {
                        for (int v = 0; v < w; v += L) {
                            FloatVector.fromArray(SP, tile, r * NR + v).mul(f).intoArray(s, o + r * tq + v);
                        }
                    }
                }
            }
        }
    }

    private static final class Forward extends Shape {
        float[] out;

        int set(float[] out, float[] state, float[] qkv, int B, int T, int nh, int nkv, int hd) {
            this.out = out;
            shape(qkv, state, B, T, nh, nkv, hd);
            return B * nh;
        }

        @Override
        public void task(int task, Scratch sc) {
            // consecutive tasks (the ones threads run side by side) take different sequences: their rows are apart,
            // so no two threads write the same cache line (head slices of a row share lines at their edges)
            int b = task % B;
            int h = task / B;
            int g = h / (nh / nkv);
            int kOff = nh * hd + g * hd;
            int vOff = (nh + nkv) * hd + g * hd;
            float[] kt = sc.get(Scratch.ATT_KT, np * hd * NR);
            float[] vr = sc.get(Scratch.ATT_V, nq * tp * NR);
            packTransposedPanels(kt, qkv, b * T, width, kOff, T, hd, np);
            packRowPanels(vr, qkv, b * T * width + vOff, width, T, hd, tp, nq);
            float[] tail = sc.get(Scratch.ATT_TAIL, MR * hd);
            float[] s = sc.get(Scratch.ATT_S, QB * tq);
            float[] tile = sc.get(Scratch.GEMM_TILE, MR * NR);
            float[] tmp = sc.get(Scratch.LANES, L + 1);
            float[] inv = sc.get(Scratch.ATT_ROW, QB);
            int ldo = nh * hd;
            for (int t0 = 0; t0 < T; t0 += QB) {
                int rows = Math.min(QB, T - t0);
                scores(qkv, (b * T + t0) * width + h * hd, width, tail, kt, t0, rows, s, tile, scale);
                for (int r = 0; r < rows; r++) {
                    int n = t0 + r + 1;
                    float sum = softmaxRow(s, r * tq, n, tileKeys(t0, r / MR * MR, rows), tmp);
                    inv[r] = 1f / sum;
                    state[(b * nh + h) * T + t0 + r] = tmp[L] + VMath.log(sum);
                    if (keepP) {
                        keepRow(s, r * tq, tileKeys(t0, r / MR * MR, rows), inv[r], state, pRow(b, h, t0 + r), T);
                    }
                }
                // O_b = (e V) / sum per row: e zero past the causal limit up to the tile's keys
                for (int r0 = 0; r0 < rows; r0 += MR) {
                    for (int q = 0; q < nq; q++) {
                        MicroKernel.kernel(s, r0 * tq, tq, 1, vr, q * tp * NR, tileSeen(t0, r0, rows), tile);
                        int o = (b * T + t0 + r0) * ldo + h * hd + q * NR;
                        scaleRows(tile, inv, r0, Math.min(MR, rows - r0), out, o, ldo, Math.min(NR, hd - q * NR));
                    }
                }
            }
        }
    }

    private static final class Backward extends Shape {
        float[] dqkv, dout, out;
        boolean add;

        int set(float[] dqkv, float[] dout, float[] qkv, float[] out, float[] state, int B, int T, int nh, int nkv,
                int hd, boolean add) {
            this.dqkv = dqkv;
            this.add = add;
            this.dout = dout;
            this.out = out;
            shape(qkv, state, B, T, nh, nkv, hd);
            return B * nkv;
        }

        @Override
        public void task(int task, Scratch sc) {
            int b = task % B; // see Forward.task
            int g = task / B;
            int group = nh / nkv;
            int kOff = nh * hd + g * hd;
            int vOff = (nh + nkv) * hd + g * hd;
            float[] kt = sc.get(Scratch.ATT_KT, np * hd * NR);
            float[] vt = sc.get(Scratch.ATT_VT, np * hd * NR);
            float[] kr = sc.get(Scratch.ATT_K, nq * tp * NR);
            if (!keepP) {
                packTransposedPanels(kt, qkv, b * T, width, kOff, T, hd, np);
            }
            packTransposedPanels(vt, qkv, b * T, width, vOff, T, hd, np);
            packRowPanels(kr, qkv, b * T * width + kOff, width, T, hd, tp, nq);
            float[] tail = sc.get(Scratch.ATT_TAIL, MR * hd);
            float[] qp = sc.get(Scratch.ATT_QP, nq * QB * NR);
            float[] dop = sc.get(Scratch.ATT_DOP, nq * QB * NR);
            float[] s = sc.get(Scratch.ATT_S, QB * tq);
            float[] ds = sc.get(Scratch.ATT_DS, QB * tq);
            float[] row = sc.get(Scratch.ATT_ROW, QB);
            float[] tile = sc.get(Scratch.GEMM_TILE, MR * NR);
            float[] tmp = sc.get(Scratch.LANES, L);
            int ldo = nh * hd;
            for (int h = g * group; h < (g + 1) * group; h++) {
                for (int t0 = 0; t0 < T; t0 += QB) {
                    int rows = Math.min(QB, T - t0);
                    int nk = t0 + rows;
                    int nz = roundUp(roundUp(nk, NR), MR); // the columns the dK / dV tiles read
                    int qo = (b * T + t0) * width + h * hd; // the block's q rows (stride width) and dO rows
                    int doo = (b * T + t0) * ldo + h * hd; // (stride ldo), read in place
                    for (int r = 0; r < rows; r++) {
                        row[r] = dot(dout, doo + r * ldo, out, doo + r * ldo, hd, tmp);
                    }
                    scores(dout, doo, ldo, tail, vt, t0, rows, ds, tile, 1f);
                    // P: the kept rows read in place (row t at pb + t*T) or recomputed into s (row stride tq)
                    float[] pa = keepP ? state : s;
                    int pb = keepP ? pRow(b, h, t0) : 0;
                    int ldp = keepP ? T : tq;
                    if (keepP) {
                        for (int r = 0; r < rows; r++) {
                            dsFromP(state, pb + r * T, ds, r * tq, t0 + r + 1, nz, row[r], scale);
                        }
                    } else {
                        scores(qkv, qo, width, tail, kt, t0, rows, s, tile, scale);
                        for (int r = 0; r < rows; r++) {
                            probsAndDs(s, ds, r * tq, t0 + r + 1, nz, state[(b * nh + h) * T + t0 + r], row[r], scale);
                        }
                    }
                    // dQ_b += dS K  (dS carries the scale)
                    int qrow = (b * T + t0) * width + h * hd;
                    for (int r0 = 0; r0 < rows; r0 += MR) {
                        for (int q = 0; q < nq; q++) {
                            MicroKernel.kernel(ds, r0 * tq, tq, 1, kr, q * tp * NR, tileSeen(t0, r0, rows), tile);
                            storeRows(tile, Math.min(MR, rows - r0), dqkv, qrow + r0 * width + q * NR, width,
                                    Math.min(NR, hd - q * NR), add); // each dQ tile is written once
                        }
                    }
                    // dK += dS^T Q_b, dV += P^T dO_b: A(i = key, k = query row) read down the score columns
                    packRowPanels(qp, qkv, qo, width, rows, hd, QB, nq);
                    packRowPanels(dop, dout, doo, ldo, rows, hd, QB, nq);
                    // straight into dqkv: this task is the only writer of kv head g's rows. A key tile is first
                    // visited by the group's first head in the block that reaches it (s0 >= t0): stored there when
                    // the call stores, added to on every later visit
                    for (int s0 = 0; s0 < nk; s0 += MR) {
                        boolean addK = add || h > g * group || s0 < t0;
                        int r1 = Math.max(0, s0 - t0); // queries before key s0 see none of these keys: skip them
                        int keys = Math.min(MR, T - s0);
                        int krow = (b * T + s0) * width;
                        for (int q = 0; q < nq; q++) {
                            int w = Math.min(NR, hd - q * NR);
                            MicroKernel.kernel(ds, s0 + r1 * tq, 1, tq, qp, q * QB * NR + r1 * NR, rows - r1, tile);
                            storeRows(tile, keys, dqkv, krow + kOff + q * NR, width, w, addK);
                            MicroKernel.kernel(pa, pb + s0 + r1 * ldp, 1, ldp, dop, q * QB * NR + r1 * NR, rows - r1,
                                    tile);
                            storeRows(tile, keys, dqkv, krow + vOff + q * NR, width, w, addK);
                        }
                    }
                }
            }
        }
    }

    /**
     * Transposed panels of the rows s < n of a T x hd matrix X (row s at qkv[(base + s) * width + off]):
     * dst[p*hd*NR + d*NR + j] = X[p*NR + j][d], zero for keys >= n; whole L x L blocks through {@link Transpose}.
     */
    static void packTransposedPanels(float[] dst, float[] qkv, int base, int width, int off, int n, int hd, int np) {
        for (int p = 0; p < np; p++) {
            int po = p * hd * NR;
            for (int j0 = 0; j0 < NR; j0 += L) {
                int s0 = p * NR + j0;
                int d = 0;
                if (s0 + L <= n) {
                    for (; d + L <= hd; d += L) {
                        Transpose.block(qkv, (base + s0) * width + off + d, width, dst, po + d * NR + j0, NR);
                    }
                }
                for (; d < hd; d++) {
                    for (int j = 0; j < L; j++) {
                        int s = s0 + j;
                        dst[po + d * NR + j0 + j] = s < n ? qkv[(base + s) * width + off + d] : 0f;
                    }
                }
            }
        }
    }

    /**
     * Row panels: dst[q*rowsP*NR + s*NR + j] = X[s][q*NR + j] for s < rowsP, zero for s >= n or column >= cols;
     * X row s at src[so + s*ld].
     */
    static void packRowPanels(float[] dst, float[] src, int so, int ld, int n, int cols, int rowsP, int nq) {
        for (int q = 0; q < nq; q++) {
            int c0 = q * NR;
            int w = Math.min(NR, cols - c0);
            int qo = q * rowsP * NR;
            for (int s = 0; s < rowsP; s++) {
                int d = qo + s * NR;
                if (s < n && w == NR) {
                    for (int v = 0; v < NR; v += L) {
                        FloatVector.fromArray(SP, src, so + s * ld + c0 + v).intoArray(dst, d + v);
                    }
                } else {
                    for (int j = 0; j < NR; j++) {
                        dst[d + j] = s < n && j < w ? src[so + s * ld + c0 + j] : 0f;
                    }
                }
            }
        }
    }

    /**
     * The first rows x w entries of the tile (MR x NR) into dst (row r at d0 + r*ld): stored, or added when add is
     * set. Whole rows of NR take vectors.
     */
    static void storeRows(float[] tile, int rows, float[] dst, int d0, int ld, int w, boolean add) {
        for (int r = 0; r < rows; r++) {
            int o = d0 + r * ld;
            if (w == NR) {
                for (int v = 0; v < NR; v += L) {
                    FloatVector t = FloatVector.fromArray(SP, tile, r * NR + v);
                    (add ? t.add(FloatVector.fromArray(SP, dst, o + v)) : t).intoArray(dst, o + v);
                }
            } else {
                for (int j = 0; j < w; j++) {
                    dst[o + j] = add ? dst[o + j] + tile[r * NR + j] : tile[r * NR + j];
                }
            }
        }
    }

    /**
     * Softmax numerators of s[o .. o+n) in place (the row's causal keys): e = exp(s - max), zero for [n, nz); returns
     * sum(e) and leaves the max in tmp[L] (tmp: L + 1 floats). Whole vectors only (the row is padded to whole panels,
     * nz >= n rounded up to L): lanes past n are blended to -inf before the max and to 0 after the exp, so there is no
     * scalar tail and no masked memory access (slow on AVX2). Lanes are summed in index order. The normalisation is
     * left to the caller (the P V tile is scaled by 1 / sum as it is stored).
     */
    static float softmaxRow(float[] s, int o, int n, int nz, float[] tmp) {
        int nv = roundUp(n, L);
        FloatVector ninf = FloatVector.broadcast(SP, Float.NEGATIVE_INFINITY);
        FloatVector mx = ninf;
        for (int j = 0; j < nv; j += L) {
            mx = ninf.blend(FloatVector.fromArray(SP, s, o + j), SP.indexInRange(j, n)).max(mx);
        }
        float max = mx.reduceLanes(VectorOperators.MAX);
        FloatVector vm = FloatVector.broadcast(SP, max);
        FloatVector zero = FloatVector.zero(SP);
        FloatVector sum = zero;
        for (int j = 0; j < nv; j += L) {
            FloatVector e = zero.blend(VMath.exp(FloatVector.fromArray(SP, s, o + j).sub(vm)), SP.indexInRange(j, n));
            e.intoArray(s, o + j);
            sum = sum.add(e);
        }
        sum.intoArray(tmp, 0);
        java.util.Arrays.fill(s, o + nv, o + nz, 0f);
        tmp[L] = max;
        return VMath.sumLanes(tmp, 0);
    }

    /** The first rows x w entries of the tile (MR x NR) times f[r0 + r] per row, into dst (row r at d0 + r*ld). */
    static void scaleRows(float[] tile, float[] f, int r0, int rows, float[] dst, int d0, int ld, int w) {
        for (int r = 0; r < rows; r++) {
            int o = d0 + r * ld;
            float fr = f[r0 + r];
            if (w == NR) {
                for (int v = 0; v < NR; v += L) {
                    FloatVector.fromArray(SP, tile, r * NR + v).mul(fr).intoArray(dst, o + v);
                }
            } else {
                for (int j = 0; j < w; j++) {
                    dst[o + j] = tile[r * NR + j] * fr;
                }
            }
        }
    }

    /**
     * One row of the backward: p[o+j] = exp(S - lse) from the scores there, ds[o+j] = p (dP - D) * scale from dP
     * there, for keys j < n; both zero for [n, nz) (whole vectors, as {@link #softmaxRow}).
     */
    static void probsAndDs(float[] p, float[] ds, int o, int n, int nz, float lse, float D, float scale) {
        int nv = roundUp(n, L);
        FloatVector vl = FloatVector.broadcast(SP, lse);
        FloatVector vd = FloatVector.broadcast(SP, D);
        FloatVector zero = FloatVector.zero(SP);
        for (int j = 0; j < nv; j += L) {
            FloatVector e = zero.blend(VMath.exp(FloatVector.fromArray(SP, p, o + j).sub(vl)), SP.indexInRange(j, n));
            e.intoArray(p, o + j);
            e.mul(FloatVector.fromArray(SP, ds, o + j).sub(vd)).mul(scale).intoArray(ds, o + j);
        }
        java.util.Arrays.fill(p, o + nv, o + nz, 0f);
        java.util.Arrays.fill(ds, o + nv, o + nz, 0f);
    }

    /**
     * ds[o+j] = p[po+j] (dP - D) * scale for keys j < n with dP read in place, zero for [n, nz); p may be read up to
     * a vector past n (its lanes there are discarded).
     */
    static void dsFromP(float[] p, int po, float[] ds, int o, int n, int nz, float D, float scale) {
        int nv = roundUp(n, L);
        FloatVector vd = FloatVector.broadcast(SP, D);
        FloatVector zero = FloatVector.zero(SP);
        for (int j = 0; j < nv; j += L) {
            FloatVector d = FloatVector.fromArray(SP, p, po + j).mul(FloatVector.fromArray(SP, ds, o + j).sub(vd))
                    .mul(scale);
            zero.blend(d, SP.indexInRange(j, n)).intoArray(ds, o + j);
        }
        java.util.Arrays.fill(ds, o + nv, o + nz, 0f);
    }

    /**
     * A whole kept row of T probabilities: dst[d0 + j] = f * e[s0 + j] for j < nz (e is zero past the causal limit,
     * so those products are zero), zero for [nz, T). Whole vectors up to the row's end, one scalar tail only where T is
     * not whole vectors (never a vector past the row: the next row may be another task's). It replaced a copy of the
     * n causal entries with a scalar tail of up to L - 1 and a separate fill: 4.5% of the forward at T = 64 (256-bit,
     * one thread, A/B in one JVM).
     */
    static void keepRow(float[] e, int s0, int nz, float f, float[] dst, int d0, int T) {
        FloatVector zero = FloatVector.zero(SP);
        int j = 0;
        for (; j + L <= T; j += L) {
            (j < nz ? FloatVector.fromArray(SP, e, s0 + j).mul(f) : zero).intoArray(dst, d0 + j);
        }
        for (; j < T; j++) {
            dst[d0 + j] = j < nz ? e[s0 + j] * f : 0f;
        }
    }

    /** sum_d a[ao + d] * b[bo + d] for d < n: lanes summed in index order, then the tail (tmp: L floats). */
    static float dot(float[] a, int ao, float[] b, int bo, int n, float[] tmp) {
        int bound = SP.loopBound(n);
        FloatVector acc = FloatVector.zero(SP);
        int i = 0;
        for (; i < bound; i += L) {
            acc = FloatVector.fromArray(SP, a, ao + i).fma(FloatVector.fromArray(SP, b, bo + i), acc);
        }
        acc.intoArray(tmp, 0);
        float sum = VMath.sumLanes(tmp, 0);
        for (; i < n; i++) {
            sum = Math.fma(a[ao + i], b[bo + i], sum);
        }
        return sum;
    }
}
