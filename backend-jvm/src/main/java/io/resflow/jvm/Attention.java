package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Fused causal attention (flash-style), never materialising the T x T score matrix.
 *
 * <p>Forward, per query row: keys are visited in blocks of KB = 4 vectors; the block's scores are 4 independent FMA
 * chains over the head dimension against a per-task transposed copy of K (hd x T), then the running max, the running
 * sum and the output accumulator are rescaled (online softmax) and the block's probabilities are folded into the
 * output with FMAs over V rows. Only the log-sum-exp per (b, h, t) is kept as state.
 *
 * <p>Backward, one task per (batch, kv head) so that the k/v gradients of a kv head and the q gradients of its query
 * heads have a single writer: probabilities are recomputed from q, k and the log-sum-exp, dP from dout and V, and
 * dS = P (dP - rowsum(dout * out)).
 */
final class Attention {
    static final VectorSpecies<Float> SP = FloatVector.SPECIES_PREFERRED;
    static final int L = SP.length();
    static final int KB = 4 * L;
    /** Query rows per forward task. */
    static final int QB = 64;

    private final Exec x;
    private final Forward fwd = new Forward();
    private final Backward bwd = new Backward();

    Attention(Exec x) {
        this.x = x;
    }

    /** Floats of state kept for the backward: the log-sum-exp per (b, h, t). */
    static long stateSize(int B, int T, int nh) {
        return (long) B * nh * T;
    }

    // qkv (B,T,(nh+2 nkv) hd) -> out (B,T,nh hd), state (B,nh,T) = log-sum-exp; query head h reads kv head h/(nh/nkv)
    void forward(float[] out, float[] state, float[] qkv, int B, int T, int nh, int nkv, int hd) {
        x.run(fwd, fwd.set(out, state, qkv, B, T, nh, nkv, hd));
    }

    // dout (B,T,nh hd) -> dqkv (B,T,(nh+2 nkv) hd) +=
    void backward(float[] dqkv, float[] dout, float[] qkv, float[] out, float[] state, int B, int T, int nh, int nkv,
            int hd) {
        x.run(bwd, bwd.set(dqkv, dout, qkv, out, state, B, T, nh, nkv, hd));
    }

    static int roundUp(int x, int r) {
        return (x + r - 1) / r * r;
    }

    /** kt[d*tp + s] = qkv[(base + s)*width + off + d] for s < n; zero for n <= s < tp. */
    static void packTransposed(float[] kt, int tp, float[] qkv, int base, int width, int off, int n, int hd) {
        int sFull = 0;
        int dFull = 0;
        if (L == 16) { // 16 x 16 blocks through registers
            sFull = n / 16 * 16;
            dFull = hd / 16 * 16;
            for (int s0 = 0; s0 < sFull; s0 += 16) {
                for (int d0 = 0; d0 < dFull; d0 += 16) {
                    Transpose.t16(qkv, (base + s0) * width + off + d0, width, kt, d0 * tp + s0, tp);
                }
            }
        }
        for (int s = 0; s < n; s++) {
            int src = (base + s) * width + off;
            for (int d = s < sFull ? dFull : 0; d < hd; d++) {
                kt[d * tp + s] = qkv[src + d];
            }
        }
        for (int d = 0; d < hd; d++) {
            java.util.Arrays.fill(kt, d * tp + n, d * tp + tp, 0f);
        }
    }

    /**
     * row[so + j] = sum_d x[xo + d] * kt[d*tp + s0 + j] for j < KB: eight independent FMA chains (even and odd d),
     * added pairwise at the end.
     */
    static void scores(float[] kt, int tp, int s0, float[] x, int xo, int hd, float[] row, int so) {
        FloatVector a0 = FloatVector.zero(SP), a1 = a0, a2 = a0, a3 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int d = 0;
        int ko = s0;
        for (; d + 1 < hd; d += 2, ko += 2 * tp) {
            FloatVector q = FloatVector.broadcast(SP, x[xo + d]);
            a0 = q.fma(FloatVector.fromArray(SP, kt, ko), a0);
            a1 = q.fma(FloatVector.fromArray(SP, kt, ko + L), a1);
            a2 = q.fma(FloatVector.fromArray(SP, kt, ko + 2 * L), a2);
            a3 = q.fma(FloatVector.fromArray(SP, kt, ko + 3 * L), a3);
            FloatVector r = FloatVector.broadcast(SP, x[xo + d + 1]);
            int k1 = ko + tp;
            b0 = r.fma(FloatVector.fromArray(SP, kt, k1), b0);
            b1 = r.fma(FloatVector.fromArray(SP, kt, k1 + L), b1);
            b2 = r.fma(FloatVector.fromArray(SP, kt, k1 + 2 * L), b2);
            b3 = r.fma(FloatVector.fromArray(SP, kt, k1 + 3 * L), b3);
        }
        if (d < hd) {
            FloatVector q = FloatVector.broadcast(SP, x[xo + d]);
            a0 = q.fma(FloatVector.fromArray(SP, kt, ko), a0);
            a1 = q.fma(FloatVector.fromArray(SP, kt, ko + L), a1);
            a2 = q.fma(FloatVector.fromArray(SP, kt, ko + 2 * L), a2);
            a3 = q.fma(FloatVector.fromArray(SP, kt, ko + 3 * L), a3);
        }
        b0.add(a0).intoArray(row, so);
        b1.add(a1).intoArray(row, so + L);
        b2.add(a2).intoArray(row, so + 2 * L);
        b3.add(a3).intoArray(row, so + 3 * L);
    }

    /**
     * Online-softmax step for one key block. Scores are in row[so .. so+KB), the running max and sum in row[ml] and
     * row[ml+1]. Replaces the scores by exp(score - max) (zero past nk), folds the block into the running sum and
     * returns the factor by which the previous accumulator must be rescaled (1 when the max did not move).
     */
    static float softmaxBlock(float[] row, int so, int nk, int ml, int tmp) {
        FloatVector ninf = FloatVector.broadcast(SP, Float.NEGATIVE_INFINITY);
        FloatVector mx = ninf;
        for (int j = 0; j < nk; j += L) {
            mx = ninf.blend(FloatVector.fromArray(SP, row, so + j), SP.indexInRange(j, nk)).max(mx);
        }
        float bmax = mx.reduceLanes(VectorOperators.MAX);
        float m = row[ml];
        float corr = 1f;
        if (bmax > m) {
            corr = m == Float.NEGATIVE_INFINITY ? 0f : VMath.exp(m - bmax); // nothing accumulated yet: no rescale
            m = bmax;
        }
        FloatVector vm = FloatVector.broadcast(SP, m);
        FloatVector sum = FloatVector.zero(SP);
        for (int j = 0; j < KB; j += L) {
            FloatVector p = FloatVector.zero(SP).blend(VMath.exp(FloatVector.fromArray(SP, row, so + j).sub(vm)),
                    SP.indexInRange(j, nk));
            p.intoArray(row, so + j);
            sum = p.add(sum);
        }
        sum.intoArray(row, tmp);
        row[ml] = m;
        row[ml + 1] = row[ml + 1] * corr + VMath.sumLanes(row, tmp);
        return corr;
    }

    /** acc[ao + d] += sum_{j < nk} p[po + j] * v[vo + j*width + d] for d < hd (acc padded to a multiple of KB). */
    static void accumulate(float[] p, int po, int nk, float[] v, int vo, int width, float[] acc, int ao, int hd) {
        for (int dc = 0; dc < hd; dc += KB) {
            VectorMask<Float> m0 = SP.indexInRange(dc, hd);
            VectorMask<Float> m1 = SP.indexInRange(dc + L, hd);
            VectorMask<Float> m2 = SP.indexInRange(dc + 2 * L, hd);
            VectorMask<Float> m3 = SP.indexInRange(dc + 3 * L, hd);
            int a = ao + dc;
            FloatVector a0 = FloatVector.fromArray(SP, acc, a);
            FloatVector a1 = FloatVector.fromArray(SP, acc, a + L);
            FloatVector a2 = FloatVector.fromArray(SP, acc, a + 2 * L);
            FloatVector a3 = FloatVector.fromArray(SP, acc, a + 3 * L);
            for (int j = 0, o = vo + dc; j < nk; j++, o += width) {
                FloatVector pj = FloatVector.broadcast(SP, p[po + j]);
                a0 = pj.fma(FloatVector.fromArray(SP, v, o, m0), a0);
                a1 = pj.fma(FloatVector.fromArray(SP, v, o + L, m1), a1);
                a2 = pj.fma(FloatVector.fromArray(SP, v, o + 2 * L, m2), a2);
                a3 = pj.fma(FloatVector.fromArray(SP, v, o + 3 * L, m3), a3);
            }
            a0.intoArray(acc, a);
            a1.intoArray(acc, a + L);
            a2.intoArray(acc, a + 2 * L);
            a3.intoArray(acc, a + 3 * L);
        }
    }

    /** x[o .. o+n) *= f. */
    static void scale(float[] x, int o, int n, float f) {
        FloatVector vf = FloatVector.broadcast(SP, f);
        for (int d = 0; d < n; d += L) {
            vf.mul(FloatVector.fromArray(SP, x, o + d)).intoArray(x, o + d);
        }
    }

    private static final class Forward extends WorkerPool.Job {
        float[] out, state, qkv;
        int B, T, nh, nkv, hd, qBlocks;

        int set(float[] out, float[] state, float[] qkv, int B, int T, int nh, int nkv, int hd) {
            this.out = out;
            this.state = state;
            this.qkv = qkv;
            this.B = B;
            this.T = T;
            this.nh = nh;
            this.nkv = nkv;
            this.hd = hd;
            this.qBlocks = (T + QB - 1) / QB;
            return B * nh * qBlocks;
        }

        @Override
        public void task(int task, Scratch s) {
            int qb = task % qBlocks;
            int bh = task / qBlocks;
            int b = bh / nh;
            int h = bh % nh;
            int g = h / (nh / nkv);
            int width = (nh + 2 * nkv) * hd;
            int kOff = nh * hd + g * hd;
            int t0 = qb * QB;
            int t1 = Math.min(T, t0 + QB);
            int tp = roundUp(t1, KB);
            int hdp = roundUp(hd, KB);
            float[] kt = s.get(Scratch.ATT_KT, hd * tp);
            packTransposed(kt, tp, qkv, b * T, width, kOff, t1, hd);
            float[] row = s.get(Scratch.ATT_ROW, 2 * hdp + KB + 2 + L);
            for (int t = t0; t < t1; t++) {
                row(b, h, g, t, width, kt, tp, hdp, row);
            }
        }

        // row scratch: qs (hdp) | acc (hdp) | scores / probabilities of one key block (KB) | max, sum | lane tmp (L)
        private void row(int b, int h, int g, int t, int width, float[] kt, int tp, int hdp, float[] row) {
            int qsO = 0;
            int accO = hdp;
            int pO = 2 * hdp;
            int ml = pO + KB;
            int tmp = ml + 2;
            float scale = (float) (1.0 / Math.sqrt(hd));
            int qrow = (b * T + t) * width + h * hd;
            for (int d = 0; d < hd; d++) {
                row[qsO + d] = qkv[qrow + d] * scale;
            }
            java.util.Arrays.fill(row, accO, accO + hdp, 0f);
            row[ml] = Float.NEGATIVE_INFINITY;
            row[ml + 1] = 0f;
            int vOff = (nh + nkv) * hd + g * hd;
            int n = t + 1;
            for (int s0 = 0; s0 < n; s0 += KB) {
                int nk = Math.min(KB, n - s0);
                scores(kt, tp, s0, row, qsO, hd, row, pO);
                float corr = softmaxBlock(row, pO, nk, ml, tmp);
                if (corr != 1f && s0 > 0) {
                    scale(row, accO, hdp, corr);
                }
                accumulate(row, pO, nk, qkv, (b * T + s0) * width + vOff, width, row, accO, hd);
            }
            float l = row[ml + 1];
            int orow = (b * T + t) * nh * hd + h * hd;
            scaleInto(row, accO, 1f / l, out, orow, hd);
            state[(b * nh + h) * T + t] = row[ml] + (float) StrictMath.log(l);
        }
    }

    /** dst[d0 + i] = f * src[s0 + i] for i < n. */
    static void scaleInto(float[] src, int s0, float f, float[] dst, int d0, int n) {
        FloatVector vf = FloatVector.broadcast(SP, f);
        for (int i = 0; i < n; i += L) {
            vf.mul(FloatVector.fromArray(SP, src, s0 + i)).intoArray(dst, d0 + i, SP.indexInRange(i, n));
        }
    }

    /** row[po+j] = P = exp(S - lse) (S read from po), row[dso+j] = P (dP - D) (dP read from dso), zero past nk. */
    static void probsAndDs(float[] row, int po, int dso, int nk, float lse, float D) {
        FloatVector vl = FloatVector.broadcast(SP, lse);
        FloatVector vD = FloatVector.broadcast(SP, D);
        for (int j = 0; j < KB; j += L) {
            VectorMask<Float> k = SP.indexInRange(j, nk);
            FloatVector p = FloatVector.zero(SP).blend(VMath.exp(FloatVector.fromArray(SP, row, po + j).sub(vl)), k);
            p.intoArray(row, po + j);
            p.mul(FloatVector.fromArray(SP, row, dso + j).sub(vD)).intoArray(row, dso + j);
        }
    }

    /**
     * dst[r0 + j*ld + d] += c[co + j] * x[xo + d] for keys j < nk and d < hd (x padded with zeros to a multiple of
     * KB, dst rows of stride ld >= that): the dv (c = P, x = dout) and dk (c = dS, x = scaled q) updates.
     */
    static void rank1Rows(float[] c, int co, int nk, float[] x, int xo, float[] dst, int r0, int ld, int hd) {
        for (int dc = 0; dc < hd; dc += KB) {
            FloatVector x0 = FloatVector.fromArray(SP, x, xo + dc);
            FloatVector x1 = FloatVector.fromArray(SP, x, xo + dc + L);
            FloatVector x2 = FloatVector.fromArray(SP, x, xo + dc + 2 * L);
            FloatVector x3 = FloatVector.fromArray(SP, x, xo + dc + 3 * L);
            for (int j = 0, r = r0 + dc; j < nk; j++, r += ld) {
                FloatVector cj = FloatVector.broadcast(SP, c[co + j]);
                cj.fma(x0, FloatVector.fromArray(SP, dst, r)).intoArray(dst, r);
                cj.fma(x1, FloatVector.fromArray(SP, dst, r + L)).intoArray(dst, r + L);
                cj.fma(x2, FloatVector.fromArray(SP, dst, r + 2 * L)).intoArray(dst, r + 2 * L);
                cj.fma(x3, FloatVector.fromArray(SP, dst, r + 3 * L)).intoArray(dst, r + 3 * L);
            }
        }
    }

    /** p[po .. po+nk) *= f. */
    static void scaleBlock(float[] p, int po, int nk, float f) {
        for (int j = 0; j < nk; j += L) {
            VectorMask<Float> k = SP.indexInRange(j, nk);
            FloatVector.broadcast(SP, f).mul(FloatVector.fromArray(SP, p, po + j, k)).intoArray(p, po + j, k);
        }
    }

    /** dst[d + i] += src[s + i] for i < n (masked tail). */
    static void addInto(float[] dst, int d, float[] src, int s, int n) {
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> mk = SP.indexInRange(i, n);
            FloatVector.fromArray(SP, src, s + i, mk).add(FloatVector.fromArray(SP, dst, d + i, mk))
                    .intoArray(dst, d + i, mk);
        }
    }

    private static final class Backward extends WorkerPool.Job {
        float[] dqkv, dout, qkv, out, state;
        int B, T, nh, nkv, hd;

        int set(float[] dqkv, float[] dout, float[] qkv, float[] out, float[] state, int B, int T, int nh, int nkv,
                int hd) {
            this.dqkv = dqkv;
            this.dout = dout;
            this.qkv = qkv;
            this.out = out;
            this.state = state;
            this.B = B;
            this.T = T;
            this.nh = nh;
            this.nkv = nkv;
            this.hd = hd;
            return B * nkv;
        }

        @Override
        public void task(int task, Scratch s) {
            int b = task / nkv;
            int g = task % nkv;
            int group = nh / nkv;
            int width = (nh + 2 * nkv) * hd;
            int kOff = nh * hd + g * hd;
            int vOff = (nh + nkv) * hd + g * hd;
            int tp = roundUp(T, KB);
            int hdp = roundUp(hd, KB);
            float[] kt = s.get(Scratch.ATT_KT, hd * tp);
            float[] vt = s.get(Scratch.ATT_VT, hd * tp);
            packTransposed(kt, tp, qkv, b * T, width, kOff, T, hd);
            packTransposed(vt, tp, qkv, b * T, width, vOff, T, hd);
            float[] dk = s.get(Scratch.ATT_DK, T * hdp);
            float[] dv = s.get(Scratch.ATT_DV, T * hdp);
            java.util.Arrays.fill(dk, 0, T * hdp, 0f);
            java.util.Arrays.fill(dv, 0, T * hdp, 0f);
            float[] row = s.get(Scratch.ATT_ROW, 3 * hdp + 2 * KB + L);
            for (int h = g * group; h < (g + 1) * group; h++) {
                for (int t = 0; t < T; t++) {
                    row(b, h, g, t, width, kt, vt, tp, hdp, dk, dv, row);
                }
            }
            for (int t = 0; t < T; t++) {
                int base = (b * T + t) * width;
                addInto(dqkv, base + kOff, dk, t * hdp, hd);
                addInto(dqkv, base + vOff, dv, t * hdp, hd);
            }
        }

        // row scratch: qs (hdp) | dout (hdp) | dq (hdp) | P (KB) | dP then dS (KB) | lane tmp (L)
        private void row(int b, int h, int g, int t, int width, float[] kt, float[] vt, int tp, int hdp, float[] dk,
                float[] dv, float[] row) {
            int qsO = 0;
            int doO = hdp;
            int dqO = 2 * hdp;
            int pO = 3 * hdp;
            int dsO = pO + KB;
            int tmp = dsO + KB;
            float scale = (float) (1.0 / Math.sqrt(hd));
            int qrow = (b * T + t) * width + h * hd;
            int orow = (b * T + t) * nh * hd + h * hd;
            for (int d = 0; d < hdp; d++) {
                boolean in = d < hd;
                row[qsO + d] = in ? qkv[qrow + d] * scale : 0f;
                row[doO + d] = in ? dout[orow + d] : 0f;
                row[dqO + d] = 0f;
            }
            float D = dot(row, doO, out, orow, hd, row, tmp);
            float lse = state[(b * nh + h) * T + t];
            int kOff = nh * hd + g * hd;
            int n = t + 1;
            for (int s0 = 0; s0 < n; s0 += KB) {
                int nk = Math.min(KB, n - s0);
                scores(kt, tp, s0, row, qsO, hd, row, pO);
                scores(vt, tp, s0, row, doO, hd, row, dsO);
                probsAndDs(row, pO, dsO, nk, lse, D);
                rank1Rows(row, pO, nk, row, doO, dv, s0 * hdp, hdp, hd);
                rank1Rows(row, dsO, nk, row, qsO, dk, s0 * hdp, hdp, hd);
                scaleBlock(row, dsO, nk, scale);
                accumulate(row, dsO, nk, qkv, (b * T + s0) * width + kOff, width, row, dqO, hd);
            }
            addInto(dqkv, qrow, row, dqO, hd);
        }
    }

    /** sum_d a[ao + d] * b[bo + d] for d < n, lanes summed in order (tmp: L floats of scratch). */
    static float dot(float[] a, int ao, float[] b, int bo, int n, float[] tmp, int to) {
        FloatVector acc = FloatVector.zero(SP);
        for (int d = 0; d < n; d += L) {
            VectorMask<Float> mk = SP.indexInRange(d, n);
            acc = FloatVector.fromArray(SP, a, ao + d, mk).fma(FloatVector.fromArray(SP, b, bo + d, mk), acc);
        }
        acc.intoArray(tmp, to);
        return VMath.sumLanes(tmp, to);
    }
}
