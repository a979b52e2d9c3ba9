package io.resflow.tornado.kernels.gpu;

import io.resflow.tornado.kernels.Bf16Kernels;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

/**
 * The linear layer out = inp W^T + b (W stored (OC, C) like nn.Linear) and its backward products, GPU-shaped: tiled
 * through local memory, with no transposed copies.
 *
 * <p>Every product is C (M x N) = or += A (M x K) B (K x N), each operand addressed by strides, so the three products
 * read the tensors where they lie:
 * <pre>
 * forward          out  (N,OC)  = inp (N,C)  W^T        A(i,k) = inp[i][k]   B(k,j) = W[j][k]     + b[j]
 * backward input   dinp (N,C)  (+)= dout (N,OC) W       A(i,k) = dout[i][k]  B(k,j) = W[k][j]
 * backward weight  dW  (OC,C)   = dout^T inp           A(i,k) = dout[k][i]  B(k,j) = inp[k][j]
 * backward bias    db  (OC)     = sum over rows of dout                         ({@link #biasGradient})
 * </pre>
 * Plain-Java meaning of {@link #product} and {@link #weightGradient} (what {@link Plain#product} computes):
 * <pre>
 * for i &lt; M, j &lt; N:  s = sum over k &lt; K of A(i,k) B(k,j);  C(i,j) = (acc ? C(i,j) : 0) + s + (bias &gt;= 0 ? bias[j] : 0)
 * </pre>
 *
 * <p>Shape: a work-group of LX x LY work-items (from the device, {@code LaunchShapes}; at most 16 x 16) computes a
 * BM x BN = 4 LY x 4 LX tile of C; each work-item a 4 x 4 register block, rows ty + LY r and columns tx + LX s
 * (r, s &lt; 4), so neighbouring work-items store neighbouring columns. The K dimension goes in steps of
 * {@link #TILE_K}: the group copies the BM x 16 slice of A and the 16 x BN slice of B into local memory (k-major, rows
 * padded by one float against bank conflicts), neighbouring work-items reading neighbouring addresses of whichever
 * dimension is contiguous in global memory, then every work-item runs 16 steps of 4 + 4 local reads and 16 FMAs.
 * Per work-group and K step: (BM + BN) 16 floats read from global memory, 2 BM BN 16 FLOPs (64 x 64 tiles: 8 KB read
 * for 131 kFLOP, 16 FLOP per byte). Out-of-range rows, columns and k load as 0 and are not stored; no work-item
 * returns early (every one reaches every barrier).
 */
public final class MatmulTiled {
    /** Register block: outputs per work-item along each dimension. */
    public static final int R = 4;
    /** Depth of one local-memory step. */
    public static final int TILE_K = 16;
    /** Largest work-group side; tiles are at most R * MAX_GROUP = 64 wide. */
    public static final int MAX_GROUP = 16;
    /** Floats of each local tile: TILE_K rows of at most 64 + 1 (padding). */
    public static final int LOCAL = TILE_K * (R * MAX_GROUP + 1);

    // product / weightGradient args: operand offsets, each plus layer * its layer stride; sizes; element strides
    public static final int C_OFF = 0, C_LSTRIDE = 1, A_OFF = 2, A_LSTRIDE = 3, B_OFF = 4, B_LSTRIDE = 5, BIAS = 6,
            M = 7, N = 8, K = 9, SAI = 10, SAK = 11, SBK = 12, SBJ = 13, ACC = 14, ARGS = 15;
    // biasGradient args: g[DB + l pStride + j] = sum_i dact[DOUT + i cols + j]
    public static final int DB = 0, DB_LSTRIDE = 1, DOUT = 2, ROWS = 3, COLS = 4;

    private MatmulTiled() {
    }

    private static void emit(FloatArray c, int base, int ldc, int i, int j, int rows, int cols, float v, int acc) {
        if (i < rows && j < cols) {
            int at = base + i * ldc + j;
            c.set(at, acc != 0 ? c.get(at) + v : v);
        }
    }

    /** Row i of a work-item's register block: columns j, j + lx, j + 2 lx, j + 3 lx (ldc = cols). */
    private static void emitRow(FloatArray c, int base, int cols, int i, int j, int lx, int rows, float v0, float v1,
            float v2, float v3, int acc) {
        emit(c, base, cols, i, j, rows, cols, v0, acc);
        emit(c, base, cols, i, j + lx, rows, cols, v1, acc);
        emit(c, base, cols, i, j + 2 * lx, rows, cols, v2, acc);
        emit(c, base, cols, i, j + 3 * lx, rows, cols, v3, acc);
    }

    /*
     * Tile loading. Element e of a (width x TILE_K) operand tile is (row, k) = (tileRow, tileK): consecutive e walk
     * the dimension that is contiguous in global memory (k when kFast is 1), so neighbouring work-items read
     * neighbouring addresses. The helpers compute indices and values only; the kernel stores into its local tile
     * itself, because TornadoVM 5.2 mis-indexes a local array inside a helper (see Reduce).
     */

    private static int tileRow(int e, int width, int kFast) {
        return kFast == 1 ? e / TILE_K : e % width;
    }

    private static int tileK(int e, int width, int kFast) {
        return kFast == 1 ? e % TILE_K : e / width;
    }

    /** Operand element (r, k) at base + r sr + k sk, or 0 outside rows x depth. */
    private static float operand(FloatArray x, int base, int r, int k, int rows, int depth, int sr, int sk) {
        return r < rows && k < depth ? x.get(base + r * sr + k * sk) : 0f;
    }

    /** bf16 operand element (r, k) at base + r sr + k sk, widened, or 0 outside rows x depth. */
    private static float operand(ShortArray x, FloatArray pow2, int base, int r, int k, int rows, int depth, int sr,
            int sk) {
        return r < rows && k < depth ? Bf16Kernels.widen(x.get(base + r * sr + k * sk), pow2) : 0f;
    }

    /**
     * C = or += A B (+ bias), with A and C in {@code x} (act for the forward, dact for the input gradient) and B and
     * the bias in {@code p}. Launch: 2D, x over ceil(N / 4LX) groups of LX, y over ceil(M / 4LY) groups of LY.
     */
    public static void product(KernelContext ctx, FloatArray x, FloatArray p, IntArray layer, IntArray m) {
        float[] as = ctx.allocateFloatLocalArray(LOCAL);
        float[] bs = ctx.allocateFloatLocalArray(LOCAL);
        int lx = ctx.localGroupSizeX;
        int ly = ctx.localGroupSizeY;
        int tx = ctx.localIdx;
        int ty = ctx.localIdy;
        int lid = ty * lx + tx;
        int threads = lx * ly;
        int bm = R * ly;
        int bn = R * lx;
        int lda = bm + 1;
        int ldb = bn + 1;
        int l = layer.get(0);
        int cOff = m.get(C_OFF) + l * m.get(C_LSTRIDE);
        int a = m.get(A_OFF) + l * m.get(A_LSTRIDE);
        int b = m.get(B_OFF) + l * m.get(B_LSTRIDE);
        int rows = m.get(M);
        int cols = m.get(N);
        int depth = m.get(K);
        int sai = m.get(SAI);
        int sak = m.get(SAK);
        int sbk = m.get(SBK);
        int sbj = m.get(SBJ);
        int i0 = ctx.groupIdy * bm;
        int j0 = ctx.groupIdx * bn;
        int aFast = sak == 1 ? 1 : 0; // A's k is contiguous: walk it fastest
        int bFast = sbj == 1 ? 0 : 1; // B's j is contiguous: walk j fastest, else k
        // the 4 x 4 register block, unrolled on purpose (also in weightGradient): 16 scalar accumulators the
        // compiler can keep in registers, where an array indexed in a loop may go to memory
        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f, c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f, c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;
        for (int k0 = 0; k0 < depth; k0 += TILE_K) {
            for (int e = lid; e < bm * TILE_K; e += threads) {
                int ii = tileRow(e, bm, aFast);
                int kq = tileK(e, bm, aFast);
                as[kq * lda + ii] = operand(x, a, i0 + ii, k0 + kq, rows, depth, sai, sak);
            }
            for (int e = lid; e < bn * TILE_K; e += threads) {
                int jj = tileRow(e, bn, bFast);
                int kq = tileK(e, bn, bFast);
                bs[kq * ldb + jj] = operand(p, b, j0 + jj, k0 + kq, cols, depth, sbj, sbk);
            }
            ctx.localBarrier();
            for (int q = 0; q < TILE_K; q++) {
                float a0 = as[q * lda + ty];
                float a1 = as[q * lda + ty + ly];
                float a2 = as[q * lda + ty + 2 * ly];
                float a3 = as[q * lda + ty + 3 * ly];
                float b0 = bs[q * ldb + tx];
                float b1 = bs[q * ldb + tx + lx];
                float b2 = bs[q * ldb + tx + 2 * lx];
                float b3 = bs[q * ldb + tx + 3 * lx];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            ctx.localBarrier();
        }
        int j = j0 + tx;
        int biasOff = m.get(BIAS);
        float d0 = 0f, d1 = 0f, d2 = 0f, d3 = 0f;
        if (biasOff >= 0) {
            int bb = biasOff + l * m.get(B_LSTRIDE);
            d0 = j < cols ? p.get(bb + j) : 0f;
            d1 = j + lx < cols ? p.get(bb + j + lx) : 0f;
            d2 = j + 2 * lx < cols ? p.get(bb + j + 2 * lx) : 0f;
            d3 = j + 3 * lx < cols ? p.get(bb + j + 3 * lx) : 0f;
        }
        int acc = m.get(ACC);
        int i = i0 + ty;
        emitRow(x, cOff, cols, i, j, lx, rows, c00 + d0, c01 + d1, c02 + d2, c03 + d3, acc);
        emitRow(x, cOff, cols, i + ly, j, lx, rows, c10 + d0, c11 + d1, c12 + d2, c13 + d3, acc);
        emitRow(x, cOff, cols, i + 2 * ly, j, lx, rows, c20 + d0, c21 + d1, c22 + d2, c23 + d3, acc);
        emitRow(x, cOff, cols, i + 3 * ly, j, lx, rows, c30 + d0, c31 + d1, c32 + d2, c33 + d3, acc);
    }

    /**
     * {@link #product} with B and the bias read from the 16-bit (bf16) copy of the parameters, widened as the group
     * copies them into its local tile ({@link Bf16Kernels#widen}): every value widened once per tile and used
     * 4 LY (or 4 LX) times from local memory. Its body repeats product's (the local tiles may only be indexed by the
     * kernel that allocates them). Launch as {@link #product}.
     */
    public static void productBf16(KernelContext ctx, FloatArray x, ShortArray w16, FloatArray pow2, IntArray layer,
            IntArray m) {
        float[] as = ctx.allocateFloatLocalArray(LOCAL);
        float[] bs = ctx.allocateFloatLocalArray(LOCAL);
        int lx = ctx.localGroupSizeX;
        int ly = ctx.localGroupSizeY;
        int tx = ctx.localIdx;
        int ty = ctx.localIdy;
        int lid = ty * lx + tx;
        int threads = lx * ly;
        int bm = R * ly;
        int bn = R * lx;
        int lda = bm + 1;
        int ldb = bn + 1;
        int l = layer.get(0);
        int cOff = m.get(C_OFF) + l * m.get(C_LSTRIDE);
        int a = m.get(A_OFF) + l * m.get(A_LSTRIDE);
        int b = m.get(B_OFF) + l * m.get(B_LSTRIDE);
        int rows = m.get(M);
        int cols = m.get(N);
        int depth = m.get(K);
        int sai = m.get(SAI);
        int sak = m.get(SAK);
        int sbk = m.get(SBK);
        int sbj = m.get(SBJ);
        int i0 = ctx.groupIdy * bm;
        int j0 = ctx.groupIdx * bn;
        int aFast = sak == 1 ? 1 : 0; // A's k is contiguous: walk it fastest
        int bFast = sbj == 1 ? 0 : 1; // B's j is contiguous: walk j fastest, else k
        // the 4 x 4 register block, unrolled on purpose (also in weightGradient): 16 scalar accumulators the
        // compiler can keep in registers, where an array indexed in a loop may go to memory
        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f, c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f, c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;
        for (int k0 = 0; k0 < depth; k0 += TILE_K) {
            for (int e = lid; e < bm * TILE_K; e += threads) {
                int ii = tileRow(e, bm, aFast);
                int kq = tileK(e, bm, aFast);
                as[kq * lda + ii] = operand(x, a, i0 + ii, k0 + kq, rows, depth, sai, sak);
            }
            for (int e = lid; e < bn * TILE_K; e += threads) {
                int jj = tileRow(e, bn, bFast);
                int kq = tileK(e, bn, bFast);
                bs[kq * ldb + jj] = operand(w16, pow2, b, j0 + jj, k0 + kq, cols, depth, sbj, sbk);
            }
            ctx.localBarrier();
            for (int q = 0; q < TILE_K; q++) {
                float a0 = as[q * lda + ty];
                float a1 = as[q * lda + ty + ly];
                float a2 = as[q * lda + ty + 2 * ly];
                float a3 = as[q * lda + ty + 3 * ly];
                float b0 = bs[q * ldb + tx];
                float b1 = bs[q * ldb + tx + lx];
                float b2 = bs[q * ldb + tx + 2 * lx];
                float b3 = bs[q * ldb + tx + 3 * lx];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            ctx.localBarrier();
        }
        int j = j0 + tx;
        int biasOff = m.get(BIAS);
        float d0 = 0f, d1 = 0f, d2 = 0f, d3 = 0f;
        if (biasOff >= 0) {
            int bb = biasOff + l * m.get(B_LSTRIDE);
            d0 = j < cols ? Bf16Kernels.widen(w16.get(bb + j), pow2) : 0f;
            d1 = j + lx < cols ? Bf16Kernels.widen(w16.get(bb + j + lx), pow2) : 0f;
            d2 = j + 2 * lx < cols ? Bf16Kernels.widen(w16.get(bb + j + 2 * lx), pow2) : 0f;
            d3 = j + 3 * lx < cols ? Bf16Kernels.widen(w16.get(bb + j + 3 * lx), pow2) : 0f;
        }
        int acc = m.get(ACC);
        int i = i0 + ty;
        emitRow(x, cOff, cols, i, j, lx, rows, c00 + d0, c01 + d1, c02 + d2, c03 + d3, acc);
        emitRow(x, cOff, cols, i + ly, j, lx, rows, c10 + d0, c11 + d1, c12 + d2, c13 + d3, acc);
        emitRow(x, cOff, cols, i + 2 * ly, j, lx, rows, c20 + d0, c21 + d1, c22 + d2, c23 + d3, acc);
        emitRow(x, cOff, cols, i + 3 * ly, j, lx, rows, c30 + d0, c31 + d1, c32 + d2, c33 + d3, acc);
    }

    /**
     * C = A B with C in {@code g} (a weight gradient), A in {@code dact} (dout) and B in {@code act} (the layer's
     * input): the same tiles as {@link #product}, other arrays. Launch as {@link #product}. Its body repeats
     * product's on purpose: the part they share indexes the local tiles, which only the allocating kernel may do.
     */
    public static void weightGradient(KernelContext ctx, FloatArray g, FloatArray dact, FloatArray act, IntArray layer,
            IntArray m) {
        float[] as = ctx.allocateFloatLocalArray(LOCAL);
        float[] bs = ctx.allocateFloatLocalArray(LOCAL);
        int lx = ctx.localGroupSizeX;
        int ly = ctx.localGroupSizeY;
        int tx = ctx.localIdx;
        int ty = ctx.localIdy;
        int lid = ty * lx + tx;
        int threads = lx * ly;
        int bm = R * ly;
        int bn = R * lx;
        int lda = bm + 1;
        int ldb = bn + 1;
        int l = layer.get(0);
        int cOff = m.get(C_OFF) + l * m.get(C_LSTRIDE);
        int a = m.get(A_OFF) + l * m.get(A_LSTRIDE);
        int b = m.get(B_OFF) + l * m.get(B_LSTRIDE);
        int rows = m.get(M);
        int cols = m.get(N);
        int depth = m.get(K);
        int sai = m.get(SAI);
        int sak = m.get(SAK);
        int sbk = m.get(SBK);
        int sbj = m.get(SBJ);
        int i0 = ctx.groupIdy * bm;
        int j0 = ctx.groupIdx * bn;
        int aFast = sak == 1 ? 1 : 0; // A's k is contiguous: walk it fastest
        int bFast = sbj == 1 ? 0 : 1; // B's j is contiguous: walk j fastest, else k
        // the 4 x 4 register block, unrolled on purpose (also in weightGradient): 16 scalar accumulators the
        // compiler can keep in registers, where an array indexed in a loop may go to memory
        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f, c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f, c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;
        for (int k0 = 0; k0 < depth; k0 += TILE_K) {
            for (int e = lid; e < bm * TILE_K; e += threads) {
                int ii = tileRow(e, bm, aFast);
                int kq = tileK(e, bm, aFast);
                as[kq * lda + ii] = operand(dact, a, i0 + ii, k0 + kq, rows, depth, sai, sak);
            }
            for (int e = lid; e < bn * TILE_K; e += threads) {
                int jj = tileRow(e, bn, bFast);
                int kq = tileK(e, bn, bFast);
                bs[kq * ldb + jj] = operand(act, b, j0 + jj, k0 + kq, cols, depth, sbj, sbk);
            }
            ctx.localBarrier();
            for (int q = 0; q < TILE_K; q++) {
                float a0 = as[q * lda + ty];
                float a1 = as[q * lda + ty + ly];
                float a2 = as[q * lda + ty + 2 * ly];
                float a3 = as[q * lda + ty + 3 * ly];
                float b0 = bs[q * ldb + tx];
                float b1 = bs[q * ldb + tx + lx];
                float b2 = bs[q * ldb + tx + 2 * lx];
                float b3 = bs[q * ldb + tx + 3 * lx];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            ctx.localBarrier();
        }
        int acc = m.get(ACC);
        int i = i0 + ty;
        int j = j0 + tx;
        emitRow(g, cOff, cols, i, j, lx, rows, c00, c01, c02, c03, acc);
        emitRow(g, cOff, cols, i + ly, j, lx, rows, c10, c11, c12, c13, acc);
        emitRow(g, cOff, cols, i + 2 * ly, j, lx, rows, c20, c21, c22, c23, acc);
        emitRow(g, cOff, cols, i + 3 * ly, j, lx, rows, c30, c31, c32, c33, acc);
    }

    /**
     * db[j] = sum over rows i of dout[i][j] (=), dout (ROWS, COLS) in dact. A work-group of LX columns by LY row
     * lanes (LX LY &lt;= 256, LY a power of two): lane ty sums rows ty, ty + LY, ...; the LY partial sums of each
     * column are added in local memory. Neighbouring work-items read neighbouring columns. Launch: 2D, x over
     * ceil(COLS / LX) groups of LX, y exactly LY.
     */
    public static void biasGradient(KernelContext ctx, FloatArray g, FloatArray dact, IntArray layer, IntArray m) {
        float[] part = ctx.allocateFloatLocalArray(256);
        int lx = ctx.localGroupSizeX;
        int ly = ctx.localGroupSizeY;
        int tx = ctx.localIdx;
        int ty = ctx.localIdy;
        int rows = m.get(ROWS);
        int cols = m.get(COLS);
        int j = ctx.groupIdx * lx + tx;
        int dout = m.get(DOUT);
        float s = 0f;
        if (j < cols) {
            for (int i = ty; i < rows; i += ly) {
                s += dact.get(dout + i * cols + j);
            }
        }
        part[ty * lx + tx] = s;
        ctx.localBarrier();
        for (int stride = ly / 2; stride > 0; stride >>= 1) {
            if (ty < stride) {
                part[ty * lx + tx] += part[(ty + stride) * lx + tx];
            }
            ctx.localBarrier();
        }
        if (ty == 0 && j < cols) {
            g.set(m.get(DB) + layer.get(0) * m.get(DB_LSTRIDE) + j, part[tx]);
        }
    }

    /**
     * The kernels' meaning in plain Java, on the same arrays and argument layouts (not run by the tests: the oracle
     * checks test the kernels themselves).
     */
    public static final class Plain {
        private Plain() {
        }

        /** {@link #product}: C in x, A in x, B and the bias in p. */
        public static void product(FloatArray x, FloatArray p, IntArray layer, IntArray m) {
            gemm(x, x, p, p, layer, m);
        }

        /** {@link #weightGradient}: C in g, A in dact, B in act. */
        public static void weightGradient(FloatArray g, FloatArray dact, FloatArray act, IntArray layer, IntArray m) {
            gemm(g, dact, act, null, layer, m);
        }

        private static void gemm(FloatArray c, FloatArray a, FloatArray b, FloatArray biasArray, IntArray layer,
                IntArray m) {
            int l = layer.get(0);
            int cOff = m.get(C_OFF) + l * m.get(C_LSTRIDE);
            int aOff = m.get(A_OFF) + l * m.get(A_LSTRIDE);
            int bOff = m.get(B_OFF) + l * m.get(B_LSTRIDE);
            int rows = m.get(M);
            int cols = m.get(N);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    float s = 0f;
                    for (int k = 0; k < m.get(K); k++) {
                        s += a.get(aOff + i * m.get(SAI) + k * m.get(SAK)) * b.get(bOff + k * m.get(SBK) + j * m.get(SBJ));
                    }
                    if (biasArray != null && m.get(BIAS) >= 0) {
                        s += biasArray.get(m.get(BIAS) + l * m.get(B_LSTRIDE) + j);
                    }
                    int at = cOff + i * cols + j;
                    c.set(at, m.get(ACC) != 0 ? c.get(at) + s : s);
                }
            }
        }

        /** {@link #biasGradient}. */
        public static void biasGradient(FloatArray g, FloatArray dact, IntArray layer, IntArray m) {
            for (int j = 0; j < m.get(COLS); j++) {
                float s = 0f;
                for (int i = 0; i < m.get(ROWS); i++) {
                    s += dact.get(m.get(DOUT) + i * m.get(COLS) + j);
                }
                g.set(m.get(DB) + layer.get(0) * m.get(DB_LSTRIDE) + j, s);
            }
        }
    }
}
