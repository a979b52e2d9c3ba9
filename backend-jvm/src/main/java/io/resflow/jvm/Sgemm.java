package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Register-blocked, cache-tiled single-precision GEMM on the Vector API:
 * {@code C(i,j) (+)= sum_k A(i,k) B(k,j)} for {@code i < M, j < ncols, k < K}, where the operands are addressed by
 * strides so that all three products of a linear layer run without transposed copies of whole matrices:
 * <pre>
 *   forward  out (N,OC)  = inp (N,C) W^T     A = inp (row-major),  B(k=c, j=o) = W[o][c]   (panels transposed)
 *   dinp     (N,C)      += dout (N,OC) W     A = dout (row-major), B(k=o, j=c) = W[o][c]   (panels copied)
 *   dW       (OC,C)     += dout^T inp        A(i=o, k=n) = dout[n][o] (packed), B(k=n, j=c) = inp[n][c]
 * </pre>
 * The micro-kernel keeps an MR x NR tile (MR rows x NV vectors: 6 x 2 with 16 vector registers, 6 x 4 with 32; see
 * {@link Tile}) in registers and, per k, broadcasts MR scalars of A and loads NV vectors of a packed B panel
 * (kc x NR), so it issues MR * NV FMAs per MR + NV loads (12 per 8, or 24 per 10); it is a single branch-free loop
 * (bias initialisation and partial panels are handled outside it, the latter through a full-width scratch tile).
 * B panels (KC x NR, zero-padded past the last column) live in per-thread scratch; the forward's are transposed from
 * W in L x L blocks ({@link Transpose}). A is read in place when its rows are contiguous and packed per row group
 * (MC x kc) when it is not (dW). Tasks are (row group, panel group) pairs sized so that every thread gets work; for
 * long K there is one panel group per thread, so A is streamed from memory only once per thread.
 *
 * <p>Determinism: an output element is computed by one task, with k blocks in increasing order and k increasing
 * within a block, whatever the partitioning; so results do not depend on the thread count or on scheduling.
 */
public final class Sgemm {
    static final VectorSpecies<Float> SP = FloatVector.SPECIES_PREFERRED;
    static final int L = SP.length();
    /** The register tile, MR rows x NV vectors (see {@link Tile}). */
    static final Tile TILE = Tile.choose(CpuShape.HOST);
    static final int MR = TILE.mr();
    static final int NV = TILE.nv();
    static final int NR = NV * L;
    static final int KC = TILE.kc();
    static final int MC = 256;
    private static final VectorSpecies<Float> S4 = FloatVector.SPECIES_128;

    /**
     * The register tile and the k block. The micro-kernel holds MR x NV accumulators, NV vectors of B and one
     * broadcast of A in registers, so MR * NV + NV + 1 must not exceed the vector registers, or C2 spills
     * accumulators to the stack on every k (measured on AVX2: the 4 x 4 tile, 21 registers, ran at about half the
     * FMA peak). Per k it issues MR * NV FMAs for NV loads + MR broadcasts; the wider the tile the fewer loads per FMA.
     * <ul>
     *   <li>32 registers (AVX-512, NEON, SVE): 6 x 4 (24 accumulators, 29 registers): 24 FMAs per 4 loads and 6
     *       broadcasts, so each B vector loaded from the L2-resident panel serves 6 rows instead of 4 (the 4 x 4 tile,
     *       21 registers, is kept as an option). On Zen 4 the GPT-2 products' medians went from 70-85% to 78-93% of the
     *       FMA peak at 512 bits and from 67-80% to 68-88% at 256 bits (JMH A/B, two rounds each), attention
     *       forward + backward 1x1024 from 45-46% to 47-60% at 512 bits.</li>
     *   <li>16 registers (AVX2, SSE): 6 x 2 (12 accumulators, 15 registers; OpenBLAS's Haswell SGEMM uses the same
     *       shape).</li>
     * </ul>
     * KC: the packed B panel (KC x NR floats) is re-read for every MR rows of a task and the A block (up to MC x KC)
     * for every panel, so both should stay in the core's L2 with room for the C tile and the streamed operand:
     * KC = L2 / 4 / (4 NR) (a quarter of L2 for the panel), rounded down to a multiple of 32, within [128, 512].
     * 512 KiB L2 with NR = 16 gives 512; 1 MiB with NR = 64 gives 512 (384 had been tuned there). On the AVX2
     * machine KC 256, 384 and 512 measured the same within the noise; 128 was 5-10% slower (more C tile passes).
     * <p>kWhole: a K up to this is taken as one block, when the A block (MC x K, read in place or packed) and the
     * panel (K x NR) fit in L2 together: K <= L2 / 4 / (MC + NR). One block means one pass over C instead of two
     * (K = 768 with KC = 512 was a 512 and a 256 block, each adding its tile into C); for the 50257-wide head, whose C
     * (51 MB at 256 rows) is far outside the caches, that pass is the cost: 159-161 -> 182-186 GFLOP/s at 256 bits
     * and 173-178 -> 185-187 at 512 on Zen 4 (JMH A/B, two rounds each; 1 MiB L2, where kWhole is 819 with NR = 64
     * and 910 with NR = 32). A 512 KiB L2 gives kWhole < KC, so nothing changes there.
     * {@code -Dresflow.jvm.tile=6x4|4x4|6x2} and {@code -Dresflow.jvm.kc=N} override the choice (the suite runs all
     * three tiles on every machine); a forced kc also turns kWhole off.
     */
    record Tile(int mr, int nv, int kc, int kWhole) {
        static Tile choose(CpuShape cpu) {
            String forced = System.getProperty("resflow.jvm.tile", "");
            String shape = forced.isEmpty() ? (cpu.vectorRegisters() >= 32 ? "6x4" : "6x2") : forced;
            int mr;
            int nv;
            switch (shape) {
                case "6x4" -> { mr = 6; nv = 4; }
                case "4x4" -> { mr = 4; nv = 4; }
                case "6x2" -> { mr = 6; nv = 2; }
                default -> throw new IllegalArgumentException( // JvmSettings.check refuses it first
                        "-Dresflow.jvm.tile=" + forced + ": expected " + String.join(", ", JvmSettings.TILES));
            }
            long nr = (long) nv * cpu.lanes();
            int kc = (int) Math.max(128, Math.min(512, cpu.l2() / 4 / (4 * nr) / 32 * 32));
            Integer forcedKc = Integer.getInteger("resflow.jvm.kc");
            if (forcedKc != null) {
                return new Tile(mr, nv, forcedKc, 0);
            }
            return new Tile(mr, nv, kc, (int) (cpu.l2() / 4 / (MC + nr)));
        }
    }

    private Sgemm() {
    }

    /** One GEMM: problem description plus task decomposition; reusable (set fields, call {@link #prepare}). */
    public static final class Job extends WorkerPool.Job {
        float[] a;
        int aOff;
        int aSi;
        int aSk;
        float[] b;
        short[] b16; // B as bf16 bits instead of b (the bf16 copy of a weight), widened as the panels are packed
        int bOff;
        int bSk;
        int bSj;
        float[] c;
        int ldc;
        float[] bias;
        boolean accumulate;
        int m;
        int k;
        int n;
        // decomposition
        int panels;
        int rowGroups;
        int rowsPerGroup;
        int panelGroups;
        int panelsPerGroup;
        boolean packA;

        /** A(i,k) = a[i*aSi + k*aSk], B(k,j) = b[k*bSk + j*bSj], C(i,j) = c[i*ldc + j]. */
        public Job set(float[] a, int aSi, int aSk, float[] b, int bSk, int bSj, float[] c, int ldc, float[] bias,
                boolean accumulate, int m, int k, int n) {
            this.a = a;
            this.aOff = 0;
            this.aSi = aSi;
            this.aSk = aSk;
            this.b = b;
            this.b16 = null;
            this.bOff = 0;
            this.bSk = bSk;
            this.bSj = bSj;
            this.c = c;
            this.ldc = ldc;
            this.bias = bias;
            this.accumulate = accumulate;
            this.m = m;
            this.k = k;
            this.n = n;
            return this;
        }

        /**
         * Chooses the task grid for {@code threads} threads; returns the number of tasks.
         * <ul>
         *   <li>A gathered into slivers (dW: dout^T): the rows alone are split, into a multiple of the thread count
         *       and at least two groups per thread, every group taking all panels; so each A element is gathered
         *       once, while the B panels (plain row copies, the cheap side) are copied once per row group.</li>
         *   <li>A read in place: row groups of MC, then the panels split so that the busiest thread's share is
         *       within 2% of the best split's (a split into 8 tasks of 5, 5, ..., 1 panels had left one thread with 20
         *       of 36 panels); among those the fewest tasks. When K is long every panel group re-reads its rows of
         *       A (rows x K) from memory, so then about one group per thread.</li>
         * </ul>
         */
        public int prepare(int threads) {
            packA = aSk != 1;
            panels = (n + NR - 1) / NR;
            if (packA) {
                int groups = roundUp(Math.max((m + MC - 1) / MC, 2 * threads), threads);
                rowsPerGroup = roundUp((m + groups - 1) / groups, MR);
                rowGroups = (m + rowsPerGroup - 1) / rowsPerGroup;
                panelsPerGroup = panels;
                panelGroups = 1;
                return rowGroups;
            }
            rowGroups = Math.max(1, (m + MC - 1) / MC);
            rowsPerGroup = roundUp((m + rowGroups - 1) / rowGroups, MR);
            rowGroups = (m + rowsPerGroup - 1) / rowsPerGroup;
            int want = (long) m * k > (1 << 20) && k > 4 * KC ? threads : 4 * threads;
            int pg = Math.min(panels, Math.max(1, (want + rowGroups - 1) / rowGroups));
            int maxPpg = (panels + pg - 1) / pg;
            long best = Long.MAX_VALUE;
            for (int ppg = 1; ppg <= maxPpg; ppg++) {
                best = Math.min(best, span(ppg, threads));
            }
            panelsPerGroup = 1;
            for (int ppg = maxPpg; ppg >= 1; ppg--) {
                if (span(ppg, threads) * 50 <= best * 51) {
                    panelsPerGroup = ppg;
                    break;
                }
            }
            panelGroups = (panels + panelsPerGroup - 1) / panelsPerGroup;
            return rowGroups * panelGroups;
        }

        /** Panels the busiest thread runs when the panels go in groups of ppg (tasks of equal rows). */
        private long span(int ppg, int threads) {
            long tasks = (long) rowGroups * ((panels + ppg - 1) / ppg);
            return (tasks + threads - 1) / threads * ppg;
        }

        @Override
        public void task(int t, Scratch s) {
            int rg = t % rowGroups;
            int pg = t / rowGroups;
            int i0 = rg * rowsPerGroup;
            int i1 = Math.min(m, i0 + rowsPerGroup);
            int p0 = pg * panelsPerGroup;
            int p1 = Math.min(panels, p0 + panelsPerGroup);
            run(this, i0, i1, p0, p1, s);
        }
    }

    static int roundUp(int x, int r) {
        return (x + r - 1) / r * r;
    }

    private static void run(Job j, int i0, int i1, int p0, int p1, Scratch s) {
        int K = j.k;
        int rows = i1 - i0;
        if (K == 0) {
            if (!j.accumulate) {
                for (int p = p0; p < p1; p++) {
                    int j0 = p * NR;
                    int nc = Math.min(NR, j.n - j0);
                    for (int i = i0; i < i1; i++) {
                        for (int jj = 0; jj < nc; jj++) {
                            j.c[i * j.ldc + j0 + jj] = j.bias == null ? 0f : j.bias[j0 + jj];
                        }
                    }
                }
            }
            return;
        }
        int kb = K <= TILE.kWhole() ? K : KC; // the k block (see Tile)
        int kcMax = Math.min(kb, K);
        int apSize = j.packA ? roundUp(rows, MR) * kcMax : 0;
        int apBase = kcMax * NR;
        int tailBase = apBase + apSize; // zero-padded MR-row sliver for the last rows % MR (unpacked A)
        float[] buf = s.get(Scratch.GEMM_PACK, tailBase + MR * kcMax);
        float[] tile = s.get(Scratch.GEMM_TILE, MR * NR);
        int full = i0 + rows / MR * MR;
        int tail = i1 - full;
        for (int k0 = 0; k0 < K; k0 += kb) {
            int kc = Math.min(kb, K - k0);
            boolean first = !j.accumulate && k0 == 0;
            float[] a;
            int aBase;
            int aSi;
            int aSk;
            int aBlk; // offset between consecutive MR-row blocks
            int tailA; // where the tail sliver starts in a (rows interleaved, stride MR)
            if (j.packA) {
                packA(j, i0, i1, k0, kc, buf, apBase);
                a = buf;
                aBase = apBase;
                aSi = 1;
                aSk = MR;
                aBlk = MR * kc;
                tailA = apBase + (rows / MR) * MR * kc;
            } else {
                a = j.a;
                aBase = j.aOff + i0 * j.aSi + k0 * j.aSk;
                aSi = j.aSi;
                aSk = j.aSk;
                aBlk = MR * j.aSi;
                tailA = tailBase;
                if (tail > 0) {
                    packSliver(j, full, i1, k0, kc, buf, tailBase);
                }
            }
            for (int p = p0; p < p1; p++) {
                int j0 = p * NR;
                int nc = Math.min(NR, j.n - j0);
                packB(j, k0, kc, j0, nc, buf, s);
                if (first) {
                    initRows(j.c, j.ldc, i0, i1, j0, nc, j.bias);
                }
                int ao = aBase;
                for (int i = i0; i < full; i += MR, ao += aBlk) {
                    MicroKernel.kernel(a, ao, aSi, aSk, buf, 0, kc, tile);
                    addTile(tile, MR, j.c, i * j.ldc + j0, j.ldc, nc);
                }
                if (tail > 0) {
                    // the same kernel on a zero-padded sliver, so that no rarely-run (slow to JIT) code is involved
                    MicroKernel.kernel(buf, tailA, 1, MR, buf, 0, kc, tile);
                    addTile(tile, tail, j.c, full * j.ldc + j0, j.ldc, nc);
                }
            }
        }
    }

    /** The rows [r0, r1) (fewer than MR) of A for k in [k0, k0+kc) as one MR-interleaved sliver, zero rows after. */
    private static void packSliver(Job j, int r0, int r1, int k0, int kc, float[] dst, int base) {
        for (int r = 0; r < MR; r++) {
            int d = base + r;
            if (r0 + r < r1) {
                int src = j.aOff + (r0 + r) * j.aSi + k0 * j.aSk;
                for (int kk = 0; kk < kc; kk++, src += j.aSk, d += MR) {
                    dst[d] = j.a[src];
                }
            } else {
                for (int kk = 0; kk < kc; kk++, d += MR) {
                    dst[d] = 0f;
                }
            }
        }
    }

    /** C rows [i0,i1), columns [j0, j0+nc) = bias (or zero); unmasked for full panels (see addTile). */
    private static void initRows(float[] c, int ldc, int i0, int i1, int j0, int nc, float[] bias) {
        for (int i = i0; i < i1; i++) {
            int o = i * ldc + j0;
            if (nc == NR) {
                for (int v = 0; v < NR; v += L) {
                    FloatVector x = bias == null ? FloatVector.zero(SP) : FloatVector.fromArray(SP, bias, j0 + v);
                    x.intoArray(c, o + v);
                }
                continue;
            }
            for (int v = 0; v < nc; v += L) {
                VectorMask<Float> m = SP.indexInRange(v, nc);
                FloatVector x = bias == null ? FloatVector.zero(SP) : FloatVector.fromArray(SP, bias, j0 + v, m);
                x.intoArray(c, o + v, m);
            }
        }
    }

    /**
     * C block (rows x nc) += the first nc columns of t[rows x NR]. Full panels take unmasked vectors: masked loads and
     * stores are emulated on AVX2 and made the tile add as costly as a k block of FMAs.
     */
    private static void addTile(float[] t, int rows, float[] c, int co, int ldc, int nc) {
        if (nc == NR) {
            for (int r = 0; r < rows; r++) {
                int o = co + r * ldc;
                for (int v = 0; v < NR; v += L) {
                    FloatVector.fromArray(SP, t, r * NR + v).add(FloatVector.fromArray(SP, c, o + v)).intoArray(c, o + v);
                }
            }
            return;
        }
        for (int r = 0; r < rows; r++) {
            int o = co + r * ldc;
            for (int v = 0; v < nc; v += L) {
                VectorMask<Float> m = SP.indexInRange(v, nc);
                FloatVector.fromArray(SP, t, r * NR + v).add(FloatVector.fromArray(SP, c, o + v, m)).intoArray(c, o + v, m);
            }
        }
    }

    /** Packs A rows [i0,i1) x k [k0,k0+kc) as MR-row slivers: ap[blk*MR*kc + k*MR + r], zero rows past i1. */
    private static void packA(Job j, int i0, int i1, int k0, int kc, float[] ap, int base) {
        float[] a = j.a;
        int aSi = j.aSi;
        int aSk = j.aSk;
        int rows = i1 - i0;
        int full = rows / MR * MR;
        int blk = 0;
        for (int r = 0; r < full; r += MR, blk++) {
            int dst = base + blk * MR * kc;
            int src = j.aOff + (i0 + r) * aSi + k0 * aSk;
            if (aSi == 1) {
                // the MR rows of a k are MR consecutive floats (dout^T): one 4-lane copy, and two floats more for 6 rows
                for (int kk = 0; kk < kc; kk++, src += aSk, dst += MR) {
                    FloatVector.fromArray(S4, a, src).intoArray(ap, dst);
                    for (int q = 4; q < MR; q++) {
                        ap[dst + q] = a[src + q];
                    }
                }
                continue;
            }
            for (int kk = 0; kk < kc; kk++, src += aSk, dst += MR) {
                for (int q = 0; q < MR; q++) {
                    ap[dst + q] = a[src + q * aSi];
                }
            }
        }
        // remaining rows (< MR): one more sliver, zero rows after the last
        if (full < rows) {
            int dst0 = base + blk * MR * kc;
            for (int r = full; r < full + MR; r++) {
                int dst = dst0 + (r - full);
                if (r < rows) {
                    int src = j.aOff + (i0 + r) * aSi + k0 * aSk;
                    for (int kk = 0; kk < kc; kk++, src += aSk, dst += MR) {
                        ap[dst] = a[src];
                    }
                } else {
                    for (int kk = 0; kk < kc; kk++, dst += MR) {
                        ap[dst] = 0f;
                    }
                }
            }
        }
    }

    /** Packs B k [k0,k0+kc) x columns [j0,j0+nc) into bp[k*NR + jj], zero past nc. */
    private static void packB(Job j, int k0, int kc, int j0, int nc, float[] bp, Scratch s) {
        if (j.b16 != null) {
            packB16(j, k0, kc, j0, nc, bp, s.get(Scratch.GEMM_B16, Transpose.L * Transpose.L));
            return;
        }
        float[] b = j.b;
        if (j.bSj == 1) {
            int src = j.bOff + k0 * j.bSk + j0;
            if (nc == NR) {
                for (int kk = 0; kk < kc; kk++, src += j.bSk) {
                    int d = kk * NR;
                    for (int v = 0; v < NR; v += L) {
                        FloatVector.fromArray(SP, b, src + v).intoArray(bp, d + v);
                    }
                }
            } else {
                for (int kk = 0; kk < kc; kk++, src += j.bSk) {
                    int d = kk * NR;
                    for (int v = 0; v < NR; v += L) {
                        FloatVector.fromArray(SP, b, src + v, SP.indexInRange(v, nc)).intoArray(bp, d + v);
                    }
                }
            }
        } else {
            int bSj = j.bSj;
            int bSk = j.bSk;
            int jFull = 0;
            int T = Transpose.L;
            if (bSk == 1) {
                // T x T blocks (T = the vector length, see Transpose); the ragged edges below
                jFull = nc / T * T;
                int kFull = kc / T * T;
                for (int jb = 0; jb < jFull; jb += T) {
                    int src = j.bOff + (j0 + jb) * bSj + k0;
                    for (int kb = 0; kb < kFull; kb += T) {
                        Transpose.block(b, src + kb, bSj, bp, kb * NR + jb, NR);
                    }
                    for (int jj = jb; jj < jb + T; jj++) {
                        int s2 = j.bOff + (j0 + jj) * bSj + k0;
                        for (int kk = kFull; kk < kc; kk++) {
                            bp[kk * NR + jj] = b[s2 + kk];
                        }
                    }
                }
            }
            for (int jj = jFull; jj < nc; jj++) {
                int src = j.bOff + (j0 + jj) * bSj + k0 * bSk;
                int d = jj;
                for (int kk = 0; kk < kc; kk++, src += bSk, d += NR) {
                    bp[d] = b[src];
                }
            }
            for (int jj = nc; jj < NR; jj++) {
                for (int kk = 0, d = jj; kk < kc; kk++, d += NR) {
                    bp[d] = 0f;
                }
            }
        }
    }

    /**
     * {@link #packB} from bf16 bits: rows of B widened L at a time (dinp: W rows), or, for a transposed B (the
     * forward's W^T), each L x L block's rows widened into a small float block first and then transposed as in the
     * fp32 path; ragged edges widened one value at a time.
     */
    private static void packB16(Job j, int k0, int kc, int j0, int nc, float[] bp, float[] blk) {
        short[] b = j.b16;
        int bSj = j.bSj;
        int bSk = j.bSk;
        if (bSj == 1 && nc == NR) {
            int src = j.bOff + k0 * bSk + j0;
            for (int kk = 0; kk < kc; kk++, src += bSk) {
                int d = kk * NR;
                for (int v = 0; v < NR; v += L) {
                    Bf16.widen(b, src + v).intoArray(bp, d + v);
                }
            }
            return;
        }
        int jFull = 0;
        if (bSk == 1 && bSj != 1) {
            int T = Transpose.L;
            jFull = nc / T * T;
            int kFull = kc / T * T;
            for (int jb = 0; jb < jFull; jb += T) {
                int src = j.bOff + (j0 + jb) * bSj + k0;
                for (int kb = 0; kb < kFull; kb += T) {
                    for (int r = 0; r < T; r++) {
                        Bf16.widen(b, src + r * bSj + kb).intoArray(blk, r * T);
                    }
                    Transpose.block(blk, 0, T, bp, kb * NR + jb, NR);
                }
                for (int jj = jb; jj < jb + T; jj++) {
                    int s2 = j.bOff + (j0 + jj) * bSj + k0;
                    for (int kk = kFull; kk < kc; kk++) {
                        bp[kk * NR + jj] = io.resflow.reference.Bf16.widen(b[s2 + kk]);
                    }
                }
            }
        }
        for (int jj = jFull; jj < nc; jj++) {
            int src = j.bOff + (j0 + jj) * bSj + k0 * bSk;
            for (int kk = 0, d = jj; kk < kc; kk++, src += bSk, d += NR) {
                bp[d] = io.resflow.reference.Bf16.widen(b[src]);
            }
        }
        for (int jj = nc; jj < NR; jj++) {
            for (int kk = 0, d = jj; kk < kc; kk++, d += NR) {
                bp[d] = 0f;
            }
        }
    }
}
