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
 * The micro-kernel keeps an MR x NR tile (4 rows x 4 vectors, 16 accumulators) in registers and, per k, broadcasts
 * 4 scalars of A and loads 4 vectors of a packed B panel (kc x NR, zero-padded past the last column), so it issues 16
 * FMAs per 8 loads. B panels live in per-thread scratch (L1/L2 sized); A is read in place when its rows are
 * contiguous, and packed per row group (MC x kc) when it is not.
 *
 * <p>Determinism: an output element is computed by one task, with k blocks in increasing order and k increasing
 * within a block, whatever the partitioning; so results do not depend on the thread count or on scheduling.
 */
public final class Sgemm {
    static final VectorSpecies<Float> SP = FloatVector.SPECIES_PREFERRED;
    static final int L = SP.length();
    static final int MR = 4;
    static final int NR = 4 * L;
    static final int KC = Integer.getInteger("resflow.kc", 256);
    static final int MC = Integer.getInteger("resflow.mc", 256);


    private Sgemm() {
    }

    /** One GEMM: problem description plus task decomposition; reusable (set fields, call {@link #prepare}). */
    public static final class Job extends WorkerPool.Job {
        float[] a;
        int aOff;
        int aSi;
        int aSk;
        float[] b;
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

        /** Chooses the task grid for {@code threads} threads; returns the number of tasks. */
        public int prepare(int threads) {
            packA = aSk != 1;
            panels = (n + NR - 1) / NR;
            rowGroups = Math.max(1, (m + MC - 1) / MC);
            rowsPerGroup = roundUp((m + rowGroups - 1) / rowGroups, MR);
            rowGroups = (m + rowsPerGroup - 1) / rowsPerGroup;
            // enough tasks to balance the threads; but when K is long every panel group re-reads all of A (rows x K)
            // from memory, so then use just one group per thread
            int want = (long) m * k > (1 << 20) && k > 4 * KC ? threads : 4 * threads;
            int pg = Math.min(panels, Math.max(1, (want + rowGroups - 1) / rowGroups));
            panelsPerGroup = (panels + pg - 1) / pg;
            panelGroups = (panels + panelsPerGroup - 1) / panelsPerGroup;
            return rowGroups * panelGroups;
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

    /** Single-threaded GEMM over the whole problem (tests, tiny shapes). */
    public static void gemm(Job j, Scratch s) {
        j.prepare(1);
        if (j.m > 0 && j.n > 0) {
            run(j, 0, j.m, 0, j.panels, s);
        }
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
        int kcMax = Math.min(KC, K);
        int apSize = j.packA ? roundUp(rows, MR) * kcMax : 0;
        float[] buf = s.get(Scratch.GEMM_PACK, kcMax * NR + apSize);
        int apBase = kcMax * NR;
        for (int k0 = 0; k0 < K; k0 += KC) {
            int kc = Math.min(KC, K - k0);
            boolean load = j.accumulate || k0 > 0;
            float[] a;
            int aBase;
            int aSi;
            int aSk;
            int aBlk; // offset between consecutive MR-row blocks
            if (j.packA) {
                packA(j, i0, i1, k0, kc, buf, apBase);
                a = buf;
                aBase = apBase;
                aSi = 1;
                aSk = MR;
                aBlk = MR * kc;
            } else {
                a = j.a;
                aBase = j.aOff + i0 * j.aSi + k0 * j.aSk;
                aSi = j.aSi;
                aSk = j.aSk;
                aBlk = MR * j.aSi;
            }
            for (int p = p0; p < p1; p++) {
                int j0 = p * NR;
                int nc = Math.min(NR, j.n - j0);
                packB(j, k0, kc, j0, nc, buf);
                int i = i0;
                int ao = aBase;
                for (; i + MR <= i1; i += MR, ao += aBlk) {
                    kernel4(a, ao, aSi, aSk, buf, kc, j.c, i * j.ldc + j0, j.ldc, nc, load ? null : j.bias, j0, load);
                }
                for (; i < i1; i++) {
                    int aoi = j.packA ? ao + (i - (i1 - (i1 - i0) % MR)) : aBase + (i - i0) * j.aSi;
                    kernel1(a, aoi, aSk, buf, kc, j.c, i * j.ldc + j0, nc, load ? null : j.bias, j0, load);
                }
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
                for (int kk = 0; kk < kc; kk++, src += aSk, dst += MR) {
                    ap[dst] = a[src];
                    ap[dst + 1] = a[src + 1];
                    ap[dst + 2] = a[src + 2];
                    ap[dst + 3] = a[src + 3];
                }
            } else {
                for (int kk = 0; kk < kc; kk++, src += aSk, dst += MR) {
                    ap[dst] = a[src];
                    ap[dst + 1] = a[src + aSi];
                    ap[dst + 2] = a[src + 2 * aSi];
                    ap[dst + 3] = a[src + 3 * aSi];
                }
            }
        }
        // remaining rows (< MR): packed one row at a time with stride MR (read back by kernel1 with aSk = MR)
        int dst0 = base + blk * MR * kc;
        for (int r = full; r < rows; r++) {
            int src = j.aOff + (i0 + r) * aSi + k0 * aSk;
            int dst = dst0 + (r - full);
            for (int kk = 0; kk < kc; kk++, src += aSk, dst += MR) {
                ap[dst] = a[src];
            }
        }
    }

    /** Packs B k [k0,k0+kc) x columns [j0,j0+nc) into bp[k*NR + jj], zero past nc. */
    private static void packB(Job j, int k0, int kc, int j0, int nc, float[] bp) {
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
            if (L == 16 && bSk == 1) {
                // 16 x 16 blocks through registers; the rest (ragged edges) below
                jFull = nc / 16 * 16;
                int kFull = kc / 16 * 16;
                for (int jb = 0; jb < jFull; jb += 16) {
                    int src = j.bOff + (j0 + jb) * bSj + k0;
                    for (int kb = 0; kb < kFull; kb += 16) {
                        Transpose.t16(b, src + kb, bSj, bp, kb * NR + jb, NR);
                    }
                    for (int jj = jb; jj < jb + 16; jj++) {
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
     * The 4 x NR micro-kernel. Tile rows read A at a[ao + r*aSi + k*aSk]; the tile starts at c[co] with row stride
     * ldc and nc valid columns. load: start from C, else from bias (or zero).
     */
    static void kernel4(float[] a, int ao, int aSi, int aSk, float[] bp, int kc, float[] c, int co, int ldc, int nc,
            float[] bias, int j0, boolean load) {
        VectorMask<Float> m0 = SP.indexInRange(0, nc);
        VectorMask<Float> m1 = SP.indexInRange(L, nc);
        VectorMask<Float> m2 = SP.indexInRange(2 * L, nc);
        VectorMask<Float> m3 = SP.indexInRange(3 * L, nc);
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33;
        if (load) {
            int r0 = co, r1 = co + ldc, r2 = co + 2 * ldc, r3 = co + 3 * ldc;
            c00 = FloatVector.fromArray(SP, c, r0, m0);
            c01 = FloatVector.fromArray(SP, c, r0 + L, m1);
            c02 = FloatVector.fromArray(SP, c, r0 + 2 * L, m2);
            c03 = FloatVector.fromArray(SP, c, r0 + 3 * L, m3);
            c10 = FloatVector.fromArray(SP, c, r1, m0);
            c11 = FloatVector.fromArray(SP, c, r1 + L, m1);
            c12 = FloatVector.fromArray(SP, c, r1 + 2 * L, m2);
            c13 = FloatVector.fromArray(SP, c, r1 + 3 * L, m3);
            c20 = FloatVector.fromArray(SP, c, r2, m0);
            c21 = FloatVector.fromArray(SP, c, r2 + L, m1);
            c22 = FloatVector.fromArray(SP, c, r2 + 2 * L, m2);
            c23 = FloatVector.fromArray(SP, c, r2 + 3 * L, m3);
            c30 = FloatVector.fromArray(SP, c, r3, m0);
            c31 = FloatVector.fromArray(SP, c, r3 + L, m1);
            c32 = FloatVector.fromArray(SP, c, r3 + 2 * L, m2);
            c33 = FloatVector.fromArray(SP, c, r3 + 3 * L, m3);
        } else if (bias != null) {
            c00 = c10 = c20 = c30 = FloatVector.fromArray(SP, bias, j0, m0);
            c01 = c11 = c21 = c31 = FloatVector.fromArray(SP, bias, j0 + L, m1);
            c02 = c12 = c22 = c32 = FloatVector.fromArray(SP, bias, j0 + 2 * L, m2);
            c03 = c13 = c23 = c33 = FloatVector.fromArray(SP, bias, j0 + 3 * L, m3);
        } else {
            FloatVector z = FloatVector.zero(SP);
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = z;
            c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = z;
        }
        int bo = 0;
        for (int k = 0; k < kc; k++, bo += NR, ao += aSk) {
            FloatVector b0 = FloatVector.fromArray(SP, bp, bo);
            FloatVector b1 = FloatVector.fromArray(SP, bp, bo + L);
            FloatVector b2 = FloatVector.fromArray(SP, bp, bo + 2 * L);
            FloatVector b3 = FloatVector.fromArray(SP, bp, bo + 3 * L);
            FloatVector x = FloatVector.broadcast(SP, a[ao]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            c02 = x.fma(b2, c02);
            c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(SP, a[ao + aSi]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            c12 = x.fma(b2, c12);
            c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(SP, a[ao + 2 * aSi]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            c22 = x.fma(b2, c22);
            c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(SP, a[ao + 3 * aSi]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            c32 = x.fma(b2, c32);
            c33 = x.fma(b3, c33);
        }
        int r0 = co, r1 = co + ldc, r2 = co + 2 * ldc, r3 = co + 3 * ldc;
        c00.intoArray(c, r0, m0);
        c01.intoArray(c, r0 + L, m1);
        c02.intoArray(c, r0 + 2 * L, m2);
        c03.intoArray(c, r0 + 3 * L, m3);
        c10.intoArray(c, r1, m0);
        c11.intoArray(c, r1 + L, m1);
        c12.intoArray(c, r1 + 2 * L, m2);
        c13.intoArray(c, r1 + 3 * L, m3);
        c20.intoArray(c, r2, m0);
        c21.intoArray(c, r2 + L, m1);
        c22.intoArray(c, r2 + 2 * L, m2);
        c23.intoArray(c, r2 + 3 * L, m3);
        c30.intoArray(c, r3, m0);
        c31.intoArray(c, r3 + L, m1);
        c32.intoArray(c, r3 + 2 * L, m2);
        c33.intoArray(c, r3 + 3 * L, m3);
    }

    /** The 1 x NR kernel for the last rows of a group. */
    static void kernel1(float[] a, int ao, int aSk, float[] bp, int kc, float[] c, int co, int nc, float[] bias,
            int j0, boolean load) {
        VectorMask<Float> m0 = SP.indexInRange(0, nc);
        VectorMask<Float> m1 = SP.indexInRange(L, nc);
        VectorMask<Float> m2 = SP.indexInRange(2 * L, nc);
        VectorMask<Float> m3 = SP.indexInRange(3 * L, nc);
        FloatVector c0, c1, c2, c3;
        if (load) {
            c0 = FloatVector.fromArray(SP, c, co, m0);
            c1 = FloatVector.fromArray(SP, c, co + L, m1);
            c2 = FloatVector.fromArray(SP, c, co + 2 * L, m2);
            c3 = FloatVector.fromArray(SP, c, co + 3 * L, m3);
        } else if (bias != null) {
            c0 = FloatVector.fromArray(SP, bias, j0, m0);
            c1 = FloatVector.fromArray(SP, bias, j0 + L, m1);
            c2 = FloatVector.fromArray(SP, bias, j0 + 2 * L, m2);
            c3 = FloatVector.fromArray(SP, bias, j0 + 3 * L, m3);
        } else {
            c0 = c1 = c2 = c3 = FloatVector.zero(SP);
        }
        int bo = 0;
        for (int k = 0; k < kc; k++, bo += NR, ao += aSk) {
            FloatVector x = FloatVector.broadcast(SP, a[ao]);
            c0 = x.fma(FloatVector.fromArray(SP, bp, bo), c0);
            c1 = x.fma(FloatVector.fromArray(SP, bp, bo + L), c1);
            c2 = x.fma(FloatVector.fromArray(SP, bp, bo + 2 * L), c2);
            c3 = x.fma(FloatVector.fromArray(SP, bp, bo + 3 * L), c3);
        }
        c0.intoArray(c, co, m0);
        c1.intoArray(c, co + L, m1);
        c2.intoArray(c, co + 2 * L, m2);
        c3.intoArray(c, co + 3 * L, m3);
    }
}
