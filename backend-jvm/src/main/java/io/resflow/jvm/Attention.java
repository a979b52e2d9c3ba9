package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
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

    private Attention() {
    }

    static int roundUp(int x, int r) {
        return (x + r - 1) / r * r;
    }

    /** kt[d*tp + s] = qkv[(base + s)*width + off + d] for s < n; zero for n <= s < tp. */
    static void packTransposed(float[] kt, int tp, float[] qkv, int base, int width, int off, int n, int hd) {
        for (int s = 0; s < n; s++) {
            int src = (base + s) * width + off;
            for (int d = 0; d < hd; d++) {
                kt[d * tp + s] = qkv[src + d];
            }
        }
        for (int d = 0; d < hd; d++) {
            for (int s = n; s < tp; s++) {
                kt[d * tp + s] = 0f;
            }
        }
    }

    static final class Forward extends WorkerPool.Job {
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
            int qOff = h * hd;
            int kOff = nh * hd + g * hd;
            int vOff = (nh + nkv) * hd + g * hd;
            int t0 = qb * QB;
            int t1 = Math.min(T, t0 + QB);
            int tp = roundUp(t1, KB);
            int hdp = roundUp(hd, KB);
            float[] kt = s.get(Scratch.ATT_KT, hd * tp);
            packTransposed(kt, tp, qkv, b * T, width, kOff, t1, hd);
            float[] row = s.get(Scratch.ATT_ROW, 2 * hdp + KB);
            int qsO = 0;
            int accO = hdp;
            int pO = 2 * hdp;
            float scale = (float) (1.0 / Math.sqrt(hd));
            FloatVector ninf = FloatVector.broadcast(SP, Float.NEGATIVE_INFINITY);
            for (int t = t0; t < t1; t++) {
                int qrow = (b * T + t) * width + qOff;
                for (int d = 0; d < hd; d++) {
                    row[qsO + d] = qkv[qrow + d] * scale;
                }
                for (int d = 0; d < hdp; d++) {
                    row[accO + d] = 0f;
                }
                float m = Float.NEGATIVE_INFINITY;
                FloatVector lsum = FloatVector.zero(SP);
                int n = t + 1;
                for (int s0 = 0; s0 < n; s0 += KB) {
                    FloatVector s0v = FloatVector.zero(SP), s1v = s0v, s2v = s0v, s3v = s0v;
                    for (int d = 0, ko = s0; d < hd; d++, ko += tp) {
                        FloatVector x = FloatVector.broadcast(SP, row[qsO + d]);
                        s0v = x.fma(FloatVector.fromArray(SP, kt, ko), s0v);
                        s1v = x.fma(FloatVector.fromArray(SP, kt, ko + L), s1v);
                        s2v = x.fma(FloatVector.fromArray(SP, kt, ko + 2 * L), s2v);
                        s3v = x.fma(FloatVector.fromArray(SP, kt, ko + 3 * L), s3v);
                    }
                    int nk = Math.min(KB, n - s0);
                    VectorMask<Float> k0 = SP.indexInRange(0, nk);
                    VectorMask<Float> k1 = SP.indexInRange(L, nk);
                    VectorMask<Float> k2 = SP.indexInRange(2 * L, nk);
                    VectorMask<Float> k3 = SP.indexInRange(3 * L, nk);
                    s0v = ninf.blend(s0v, k0);
                    s1v = ninf.blend(s1v, k1);
                    s2v = ninf.blend(s2v, k2);
                    s3v = ninf.blend(s3v, k3);
                    float bmax = VMath.max(s0v.max(s1v).max(s2v.max(s3v)));
                    if (bmax > m) {
                        float corr = VMath.exp(m - bmax);
                        m = bmax;
                        lsum = lsum.mul(corr);
                        for (int d = 0; d < hdp; d += L) {
                            FloatVector.fromArray(SP, row, accO + d).mul(corr).intoArray(row, accO + d);
                        }
                    }
                    FloatVector vm = FloatVector.broadcast(SP, m);
                    FloatVector zero = FloatVector.zero(SP);
                    FloatVector p0 = zero.blend(VMath.exp(s0v.sub(vm)), k0);
                    FloatVector p1 = zero.blend(VMath.exp(s1v.sub(vm)), k1);
                    FloatVector p2 = zero.blend(VMath.exp(s2v.sub(vm)), k2);
                    FloatVector p3 = zero.blend(VMath.exp(s3v.sub(vm)), k3);
                    lsum = lsum.add(p0.add(p1).add(p2.add(p3)));
                    p0.intoArray(row, pO);
                    p1.intoArray(row, pO + L);
                    p2.intoArray(row, pO + 2 * L);
                    p3.intoArray(row, pO + 3 * L);
                    int vbase = (b * T + s0) * width + vOff;
                    for (int dc = 0; dc < hd; dc += KB) {
                        VectorMask<Float> m0 = SP.indexInRange(dc, hd);
                        VectorMask<Float> m1 = SP.indexInRange(dc + L, hd);
                        VectorMask<Float> m2 = SP.indexInRange(dc + 2 * L, hd);
                        VectorMask<Float> m3 = SP.indexInRange(dc + 3 * L, hd);
                        int ao = accO + dc;
                        FloatVector a0 = FloatVector.fromArray(SP, row, ao);
                        FloatVector a1 = FloatVector.fromArray(SP, row, ao + L);
                        FloatVector a2 = FloatVector.fromArray(SP, row, ao + 2 * L);
                        FloatVector a3 = FloatVector.fromArray(SP, row, ao + 3 * L);
                        for (int j = 0, vo = vbase + dc; j < nk; j++, vo += width) {
                            FloatVector p = FloatVector.broadcast(SP, row[pO + j]);
                            a0 = p.fma(FloatVector.fromArray(SP, qkv, vo, m0), a0);
                            a1 = p.fma(FloatVector.fromArray(SP, qkv, vo + L, m1), a1);
                            a2 = p.fma(FloatVector.fromArray(SP, qkv, vo + 2 * L, m2), a2);
                            a3 = p.fma(FloatVector.fromArray(SP, qkv, vo + 3 * L, m3), a3);
                        }
                        a0.intoArray(row, ao);
                        a1.intoArray(row, ao + L);
                        a2.intoArray(row, ao + 2 * L);
                        a3.intoArray(row, ao + 3 * L);
                    }
                }
                float l = VMath.sum(lsum);
                float inv = 1f / l;
                int orow = (b * T + t) * nh * hd + h * hd;
                for (int d = 0; d < hd; d += L) {
                    VectorMask<Float> mk = SP.indexInRange(d, hd);
                    FloatVector.fromArray(SP, row, accO + d).mul(inv).intoArray(out, orow + d, mk);
                }
                state[(b * nh + h) * T + t] = m + (float) StrictMath.log(l);
            }
        }
    }

    static final class Backward extends WorkerPool.Job {
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
            // row scratch: qs (hdp) | do (hdp) | dq (hdp) | P (KB) | dS (KB)
            float[] row = s.get(Scratch.ATT_ROW, 3 * hdp + 2 * KB);
            int qsO = 0;
            int doO = hdp;
            int dqO = 2 * hdp;
            int pO = 3 * hdp;
            int dsO = pO + KB;
            float scale = (float) (1.0 / Math.sqrt(hd));
            FloatVector zero = FloatVector.zero(SP);
            for (int h = g * group; h < (g + 1) * group; h++) {
                int qOff = h * hd;
                for (int t = 0; t < T; t++) {
                    int qrow = (b * T + t) * width + qOff;
                    int orow = (b * T + t) * nh * hd + h * hd;
                    for (int d = 0; d < hdp; d++) {
                        boolean in = d < hd;
                        row[qsO + d] = in ? qkv[qrow + d] * scale : 0f;
                        row[doO + d] = in ? dout[orow + d] : 0f;
                        row[dqO + d] = 0f;
                    }
                    FloatVector dacc = zero;
                    for (int d = 0; d < hd; d += L) {
                        VectorMask<Float> mk = SP.indexInRange(d, hd);
                        dacc = FloatVector.fromArray(SP, row, doO + d).fma(FloatVector.fromArray(SP, out, orow + d, mk),
                                dacc);
                    }
                    FloatVector vD = FloatVector.broadcast(SP, VMath.sum(dacc));
                    FloatVector vlse = FloatVector.broadcast(SP, state[(b * nh + h) * T + t]);
                    int n = t + 1;
                    for (int s0 = 0; s0 < n; s0 += KB) {
                        FloatVector s0v = zero, s1v = zero, s2v = zero, s3v = zero;
                        FloatVector d0v = zero, d1v = zero, d2v = zero, d3v = zero;
                        for (int d = 0, ko = s0; d < hd; d++, ko += tp) {
                            FloatVector x = FloatVector.broadcast(SP, row[qsO + d]);
                            s0v = x.fma(FloatVector.fromArray(SP, kt, ko), s0v);
                            s1v = x.fma(FloatVector.fromArray(SP, kt, ko + L), s1v);
                            s2v = x.fma(FloatVector.fromArray(SP, kt, ko + 2 * L), s2v);
                            s3v = x.fma(FloatVector.fromArray(SP, kt, ko + 3 * L), s3v);
                            FloatVector y = FloatVector.broadcast(SP, row[doO + d]);
                            d0v = y.fma(FloatVector.fromArray(SP, vt, ko), d0v);
                            d1v = y.fma(FloatVector.fromArray(SP, vt, ko + L), d1v);
                            d2v = y.fma(FloatVector.fromArray(SP, vt, ko + 2 * L), d2v);
                            d3v = y.fma(FloatVector.fromArray(SP, vt, ko + 3 * L), d3v);
                        }
                        int nk = Math.min(KB, n - s0);
                        FloatVector p0 = zero.blend(VMath.exp(s0v.sub(vlse)), SP.indexInRange(0, nk));
                        FloatVector p1 = zero.blend(VMath.exp(s1v.sub(vlse)), SP.indexInRange(L, nk));
                        FloatVector p2 = zero.blend(VMath.exp(s2v.sub(vlse)), SP.indexInRange(2 * L, nk));
                        FloatVector p3 = zero.blend(VMath.exp(s3v.sub(vlse)), SP.indexInRange(3 * L, nk));
                        p0.intoArray(row, pO);
                        p1.intoArray(row, pO + L);
                        p2.intoArray(row, pO + 2 * L);
                        p3.intoArray(row, pO + 3 * L);
                        p0.mul(d0v.sub(vD)).intoArray(row, dsO);
                        p1.mul(d1v.sub(vD)).intoArray(row, dsO + L);
                        p2.mul(d2v.sub(vD)).intoArray(row, dsO + 2 * L);
                        p3.mul(d3v.sub(vD)).intoArray(row, dsO + 3 * L);
                        for (int dc = 0; dc < hd; dc += KB) {
                            VectorMask<Float> m0 = SP.indexInRange(dc, hd);
                            VectorMask<Float> m1 = SP.indexInRange(dc + L, hd);
                            VectorMask<Float> m2 = SP.indexInRange(dc + 2 * L, hd);
                            VectorMask<Float> m3 = SP.indexInRange(dc + 3 * L, hd);
                            FloatVector o0 = FloatVector.fromArray(SP, row, doO + dc);
                            FloatVector o1 = FloatVector.fromArray(SP, row, doO + dc + L);
                            FloatVector o2 = FloatVector.fromArray(SP, row, doO + dc + 2 * L);
                            FloatVector o3 = FloatVector.fromArray(SP, row, doO + dc + 3 * L);
                            FloatVector q0 = FloatVector.fromArray(SP, row, qsO + dc);
                            FloatVector q1 = FloatVector.fromArray(SP, row, qsO + dc + L);
                            FloatVector q2 = FloatVector.fromArray(SP, row, qsO + dc + 2 * L);
                            FloatVector q3 = FloatVector.fromArray(SP, row, qsO + dc + 3 * L);
                            FloatVector g0 = FloatVector.fromArray(SP, row, dqO + dc);
                            FloatVector g1 = FloatVector.fromArray(SP, row, dqO + dc + L);
                            FloatVector g2 = FloatVector.fromArray(SP, row, dqO + dc + 2 * L);
                            FloatVector g3 = FloatVector.fromArray(SP, row, dqO + dc + 3 * L);
                            int ko = (b * T + s0) * width + kOff + dc;
                            int ro = s0 * hdp + dc;
                            for (int j = 0; j < nk; j++, ko += width, ro += hdp) {
                                FloatVector p = FloatVector.broadcast(SP, row[pO + j]);
                                FloatVector ds = FloatVector.broadcast(SP, row[dsO + j]);
                                FloatVector dss = ds.mul(scale);
                                p.fma(o0, FloatVector.fromArray(SP, dv, ro)).intoArray(dv, ro);
                                p.fma(o1, FloatVector.fromArray(SP, dv, ro + L)).intoArray(dv, ro + L);
                                p.fma(o2, FloatVector.fromArray(SP, dv, ro + 2 * L)).intoArray(dv, ro + 2 * L);
                                p.fma(o3, FloatVector.fromArray(SP, dv, ro + 3 * L)).intoArray(dv, ro + 3 * L);
                                ds.fma(q0, FloatVector.fromArray(SP, dk, ro)).intoArray(dk, ro);
                                ds.fma(q1, FloatVector.fromArray(SP, dk, ro + L)).intoArray(dk, ro + L);
                                ds.fma(q2, FloatVector.fromArray(SP, dk, ro + 2 * L)).intoArray(dk, ro + 2 * L);
                                ds.fma(q3, FloatVector.fromArray(SP, dk, ro + 3 * L)).intoArray(dk, ro + 3 * L);
                                g0 = dss.fma(FloatVector.fromArray(SP, qkv, ko, m0), g0);
                                g1 = dss.fma(FloatVector.fromArray(SP, qkv, ko + L, m1), g1);
                                g2 = dss.fma(FloatVector.fromArray(SP, qkv, ko + 2 * L, m2), g2);
                                g3 = dss.fma(FloatVector.fromArray(SP, qkv, ko + 3 * L, m3), g3);
                            }
                            g0.intoArray(row, dqO + dc);
                            g1.intoArray(row, dqO + dc + L);
                            g2.intoArray(row, dqO + dc + 2 * L);
                            g3.intoArray(row, dqO + dc + 3 * L);
                        }
                    }
                    int dq = (b * T + t) * width + qOff;
                    for (int d = 0; d < hd; d += L) {
                        VectorMask<Float> mk = SP.indexInRange(d, hd);
                        FloatVector.fromArray(SP, dqkv, dq + d, mk).add(FloatVector.fromArray(SP, row, dqO + d))
                                .intoArray(dqkv, dq + d, mk);
                    }
                }
            }
            for (int t = 0; t < T; t++) {
                int base = (b * T + t) * width;
                for (int d = 0; d < hd; d += L) {
                    VectorMask<Float> mk = SP.indexInRange(d, hd);
                    FloatVector.fromArray(SP, dqkv, base + kOff + d, mk).add(FloatVector.fromArray(SP, dk, t * hdp + d))
                            .intoArray(dqkv, base + kOff + d, mk);
                    FloatVector.fromArray(SP, dqkv, base + vOff + d, mk).add(FloatVector.fromArray(SP, dv, t * hdp + d))
                            .intoArray(dqkv, base + vOff + d, mk);
                }
            }
        }
    }
}
