package io.resflow.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.engine.Ops;
import io.resflow.reference.ReferenceOps;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * Every JvmOps kernel against the ReferenceOps oracle on random inputs of awkward sizes (tails that are not multiples
 * of the vector length, several GEMM panels and k blocks, GQA). Gradient outputs start non-zero to check the +=
 * contract. Each comparison: rel_l2 = ||x - r|| / ||r|| within TOL.
 */
class JvmOpsTest {
    static final double TOL = 1e-5;

    final SplittableRandom rnd = new SplittableRandom(7);
    final ReferenceOps ref = new ReferenceOps();

    float[] rand(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        }
        return a;
    }

    int[] tokens(int n, int v) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(v);
        }
        return t;
    }

    static double relL2(float[] x, float[] r) {
        assertEquals(r.length, x.length, "length");
        double d = 0;
        double n = 0;
        for (int i = 0; i < x.length; i++) {
            assertTrue(Float.isFinite(x[i]), "non-finite value at " + i);
            double e = (double) x[i] - r[i];
            d += e * e;
            n += (double) r[i] * r[i];
        }
        return n == 0 ? Math.sqrt(d) : Math.sqrt(d / n);
    }

    static void close(String what, float[] x, float[] r) {
        close(what, x, r, TOL);
    }

    static void close(String what, float[] x, float[] r, double tol) {
        double e = relL2(x, r);
        assertTrue(e <= tol, what + ": rel_l2 " + e + " > " + tol);
    }

    static Ops[] jvms() {
        return new Ops[] {new JvmOps(1), new JvmOps(2), new JvmOps(3)};
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void matmul(int threads) {
        JvmOps ops = new JvmOps(threads);
        int[][] shapes = {{37, 48, 131}, {1, 7, 5}, {5, 300, 67}, {70, 520, 200}, {64, 64, 64}, {3, 17, 1}};
        for (int[] sh : shapes) {
            int N = sh[0], C = sh[1], OC = sh[2];
            String tag = " N=" + N + " C=" + C + " OC=" + OC;
            float[] inp = rand(N * C, 1), w = rand(OC * C, 1), b = rand(OC, 1), dout = rand(N * OC, 1);
            for (float[] bias : new float[][] {b, null}) {
                float[] o1 = rand(N * OC, 1), o2 = o1.clone();
                ref.matmulForward(o1, inp, w, bias, N, C, OC);
                ops.matmulForward(o2, inp, w, bias, N, C, OC);
                close("matmul fwd" + tag, o2, o1);
            }
            float[] di1 = rand(N * C, 1), dw1 = rand(OC * C, 1), db1 = rand(OC, 1);
            float[] di2 = di1.clone(), dw2 = dw1.clone(), db2 = db1.clone();
            ref.matmulBackward(di1, dw1, db1, dout, inp, w, N, C, OC);
            ops.matmulBackward(di2, dw2, db2, dout, inp, w, N, C, OC);
            close("matmul dinp" + tag, di2, di1);
            close("matmul dw" + tag, dw2, dw1);
            close("matmul db" + tag, db2, db1);
            // null outputs are skipped
            float[] di3 = di1.clone();
            ops.matmulBackward(di3, null, null, dout, inp, w, N, C, OC);
            float[] dw3 = dw1.clone();
            ops.matmulBackward(null, dw3, null, dout, inp, w, N, C, OC);
        }
    }

    @Test
    void embedding() {
        int B = 3, T = 13, C = 37, V = 29;
        int[] tok = tokens(B * T, V);
        tok[1] = tok[0]; // repeated tokens collide in the scatter
        float[] wte = rand(V * C, 1), wpe = rand(T * C, 1), dout = rand(B * T * C, 1);
        for (Ops ops : jvms()) {
            for (float[] pe : new float[][] {wpe, null}) {
                float[] o1 = new float[B * T * C], o2 = new float[B * T * C];
                ref.embeddingForward(o1, tok, wte, pe, B, T, C);
                ops.embeddingForward(o2, tok, wte, pe, B, T, C);
                close("embedding fwd", o2, o1);
                float[] dte1 = rand(V * C, 1), dte2 = dte1.clone();
                float[] dpe1 = pe == null ? null : rand(T * C, 1), dpe2 = pe == null ? null : dpe1.clone();
                ref.embeddingBackward(dte1, dpe1, dout, tok, B, T, C);
                ops.embeddingBackward(dte2, dpe2, dout, tok, B, T, C);
                close("embedding dwte", dte2, dte1);
                if (pe != null) {
                    close("embedding dwpe", dpe2, dpe1);
                }
            }
        }
    }

    @Test
    void layerNorm() {
        for (int C : new int[] {48, 37, 5, 768}) {
            int N = 37;
            float[] inp = rand(N * C, 2), w = rand(C, 1), b = rand(C, 1), dout = rand(N * C, 1);
            for (int i = 0; i < C; i++) {
                inp[i] += 30f; // a row with a large mean: the one-pass variance must not cancel
            }
            for (Ops ops : jvms()) {
                for (float[] bias : new float[][] {b, null}) {
                    float[] o1 = new float[N * C], m1 = new float[N], r1 = new float[N];
                    float[] o2 = new float[N * C], m2 = new float[N], r2 = new float[N];
                    ref.layerNormForward(o1, m1, r1, inp, w, bias, N, C, 1e-5f);
                    ops.layerNormForward(o2, m2, r2, inp, w, bias, N, C, 1e-5f);
                    close("ln out C=" + C, o2, o1);
                    close("ln mean", m2, m1);
                    close("ln rstd", r2, r1);
                    float[] di1 = rand(N * C, 1), dw1 = rand(C, 1), db1 = bias == null ? null : rand(C, 1);
                    float[] di2 = di1.clone(), dw2 = dw1.clone(), db2 = db1 == null ? null : db1.clone();
                    ref.layerNormBackward(di1, dw1, db1, dout, inp, w, m1, r1, N, C);
                    ops.layerNormBackward(di2, dw2, db2, dout, inp, w, m1, r1, N, C);
                    close("ln dinp C=" + C, di2, di1);
                    close("ln dw C=" + C, dw2, dw1);
                    if (db1 != null) {
                        close("ln db C=" + C, db2, db1);
                    }
                }
            }
        }
    }

    @Test
    void rmsNorm() {
        for (int C : new int[] {48, 37, 5}) {
            int N = 37;
            float[] inp = rand(N * C, 2), w = rand(C, 1), dout = rand(N * C, 1);
            for (Ops ops : jvms()) {
                float[] o1 = new float[N * C], r1 = new float[N];
                float[] o2 = new float[N * C], r2 = new float[N];
                ref.rmsNormForward(o1, r1, inp, w, N, C, 1e-5f);
                ops.rmsNormForward(o2, r2, inp, w, N, C, 1e-5f);
                close("rms out", o2, o1);
                close("rms rstd", r2, r1);
                float[] di1 = rand(N * C, 1), dw1 = rand(C, 1);
                float[] di2 = di1.clone(), dw2 = dw1.clone();
                ref.rmsNormBackward(di1, dw1, dout, inp, w, r1, N, C);
                ops.rmsNormBackward(di2, dw2, dout, inp, w, r1, N, C);
                close("rms dinp", di2, di1);
                close("rms dw", dw2, dw1);
            }
        }
    }

    @Test
    void rope() {
        int B = 2, T = 13, nh = 4, nkv = 2;
        for (int hd : new int[] {12, 64, 6}) {
            int W = (nh + 2 * nkv) * hd;
            float[] x = rand(B * T * W, 1);
            for (Ops ops : jvms()) {
                float[] a = x.clone(), c = x.clone();
                ref.ropeForward(a, B, T, nh, nkv, hd, 10000);
                ops.ropeForward(c, B, T, nh, nkv, hd, 10000);
                close("rope fwd hd=" + hd, c, a);
                ref.ropeBackward(a, B, T, nh, nkv, hd, 500000);
                ops.ropeBackward(c, B, T, nh, nkv, hd, 500000);
                close("rope bwd hd=" + hd, c, a);
            }
        }
    }

    @Test
    void attention() {
        // {B, T, nh, nkv, hd}: MHA with odd T, GQA, one kv head, long T (several key and query blocks), wide heads
        int[][] shapes = {{2, 13, 3, 3, 12}, {2, 13, 4, 2, 12}, {1, 7, 4, 1, 5}, {1, 150, 2, 1, 12}, {2, 70, 2, 2, 64},
                {1, 9, 2, 2, 80}};
        for (int[] sh : shapes) {
            int B = sh[0], T = sh[1], nh = sh[2], nkv = sh[3], hd = sh[4];
            String tag = " B=" + B + " T=" + T + " nh=" + nh + " nkv=" + nkv + " hd=" + hd;
            int W = (nh + 2 * nkv) * hd;
            float[] qkv = rand(B * T * W, 2), dout = rand(B * T * nh * hd, 1);
            float[] o1 = new float[B * T * nh * hd];
            float[] st1 = new float[(int) ref.attentionStateSize(B, T, nh)];
            ref.attentionForward(o1, st1, qkv, B, T, nh, nkv, hd);
            float[] dq1 = rand(B * T * W, 1);
            float[] dq0 = dq1.clone();
            ref.attentionBackward(dq1, dout, qkv, o1, st1, B, T, nh, nkv, hd);
            for (Ops ops : jvms()) {
                float[] o2 = new float[B * T * nh * hd];
                float[] st2 = new float[(int) ops.attentionStateSize(B, T, nh)];
                assertEquals((long) B * nh * T, ops.attentionStateSize(B, T, nh), "state is the log-sum-exp only");
                ops.attentionForward(o2, st2, qkv, B, T, nh, nkv, hd);
                close("attention fwd" + tag, o2, o1);
                float[] dq2 = dq0.clone();
                ops.attentionBackward(dq2, dout, qkv, o2, st2, B, T, nh, nkv, hd);
                close("attention bwd" + tag, dq2, dq1);
            }
        }
    }

    @Test
    void activations() {
        int N = 37, F = 131;
        float[] x = rand(N * 2 * F, 4), dout = rand(N * 2 * F, 1);
        x[0] = 12f;
        x[1] = -12f;
        x[2] = 95f;
        x[3] = -95f;
        x[4] = 0f;
        for (Ops ops : jvms()) {
            float[] o1 = new float[N * F], o2 = new float[N * F];
            ref.geluForward(o1, x, N * F);
            ops.geluForward(o2, x, N * F);
            close("gelu fwd", o2, o1);
            float[] d1 = rand(N * F, 1), d2 = d1.clone();
            ref.geluBackward(d1, x, dout, N * F);
            ops.geluBackward(d2, x, dout, N * F);
            close("gelu bwd", d2, d1);
            ref.swigluForward(o1, x, N, F);
            ops.swigluForward(o2, x, N, F);
            close("swiglu fwd", o2, o1);
            float[] s1 = rand(N * 2 * F, 1), s2 = s1.clone();
            ref.swigluBackward(s1, x, dout, N, F);
            ops.swigluBackward(s2, x, dout, N, F);
            close("swiglu bwd", s2, s1);
        }
        // a size spanning several element-wise chunks
        int n = 3 * JvmOps.CHUNK + 17;
        float[] big = rand(n, 3), bd = rand(n, 1);
        float[] o1 = new float[n], o2 = new float[n];
        ref.geluForward(o1, big, n);
        new JvmOps(2).geluForward(o2, big, n);
        close("gelu fwd (chunks)", o2, o1);
        float[] d1 = rand(n, 1), d2 = d1.clone();
        ref.geluBackward(d1, big, bd, n);
        new JvmOps(2).geluBackward(d2, big, bd, n);
        close("gelu bwd (chunks)", d2, d1);
    }

    @Test
    void residual() {
        int n = 2 * JvmOps.CHUNK + 1001;
        float[] skip = rand(n, 1), branch = rand(n, 1), dout = rand(n, 1);
        for (Ops ops : jvms()) {
            for (float[] ag : new float[][] {{1f, 1f}, {1.7f, 0.3f}, {0f, 1f}}) {
                float[] o1 = new float[n], o2 = new float[n];
                ref.residualForward(o1, skip, ag[0], branch, ag[1], n);
                ops.residualForward(o2, skip, ag[0], branch, ag[1], n);
                close("residual fwd", o2, o1);
                float[] ds1 = rand(n, 1), db1 = rand(n, 1), ds2 = ds1.clone(), db2 = db1.clone();
                double g1 = ref.residualBackward(ds1, db1, dout, ag[0], branch, ag[1], n);
                double g2 = ops.residualBackward(ds2, db2, dout, ag[0], branch, ag[1], n);
                close("residual dskip", ds2, ds1);
                close("residual dbranch", db2, db1);
                assertEquals(g1, g2, 1e-5 * Math.max(1, Math.abs(g1)), "residual dgate");
                double g3 = ops.residualBackward(null, null, dout, ag[0], branch, ag[1], n);
                assertEquals(g2, g3, 0.0, "dgate with null outputs");
            }
        }
    }

    @Test
    void crossEntropy() {
        int N = 37, V = 259;
        float[] logits = rand(N * V, 5);
        logits[3] = 80f; // a dominant logit
        int[] tg = tokens(N, V);
        float[] l1 = new float[N], p1 = new float[N * V];
        double loss1 = ref.crossEntropyForward(l1, p1, logits, tg, N, V);
        float[] g1 = rand(N * V, 0.01);
        float[] g0 = g1.clone();
        ref.crossEntropyBackward(g1, p1, tg, N, V);
        for (Ops ops : jvms()) {
            float[] l2 = new float[N], p2 = new float[N * V];
            double loss2 = ops.crossEntropyForward(l2, p2, logits, tg, N, V);
            assertEquals(loss1, loss2, 1e-5 * Math.abs(loss1), "mean loss");
            close("ce losses", l2, l1);
            close("ce probs", p2, p1);
            float[] g2 = g0.clone();
            ops.crossEntropyBackward(g2, p1, tg, N, V);
            close("ce dlogits", g2, g1);
        }
    }

    @Test
    void adamwAndSumSquares() {
        int n = 2 * JvmOps.CHUNK + 77;
        float[] p = rand(n, 1), g = rand(n, 0.1), m = rand(n, 0.01), v = rand(n, 0.001);
        for (int i = 0; i < n; i++) {
            v[i] = Math.abs(v[i]);
        }
        for (Ops ops : jvms()) {
            float[] p1 = p.clone(), m1 = m.clone(), v1 = v.clone();
            float[] p2 = p.clone(), m2 = m.clone(), v2 = v.clone();
            for (int t = 1; t <= 3; t++) {
                ref.adamw(p1, g, m1, v1, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, t, 0.7f);
                ops.adamw(p2, g, m2, v2, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, t, 0.7f);
            }
            close("adamw p", p2, p1);
            close("adamw m", m2, m1);
            close("adamw v", v2, v1);
            double s1 = ref.sumSquares(g, n);
            double s2 = ops.sumSquares(g, n);
            assertEquals(s1, s2, 1e-6 * s1, "sumSquares");
            assertEquals(ref.sumSquares(g, 5), ops.sumSquares(g, 5), 1e-6 * ref.sumSquares(g, 5), "sumSquares n=5");
        }
    }

    @Test
    void resultsDoNotDependOnTheThreadCount() {
        int N = 37, C = 300, OC = 131, B = 2, T = 13, nh = 4, nkv = 2, hd = 12;
        float[] inp = rand(N * C, 1), w = rand(OC * C, 1), b = rand(OC, 1), dout = rand(N * OC, 1);
        int W = (nh + 2 * nkv) * hd;
        float[] qkv = rand(B * T * W, 2), adout = rand(B * T * nh * hd, 1);
        float[] gw = rand(C, 1), gb = rand(C, 1);
        float[][] first = null;
        for (Ops ops : jvms()) {
            float[] out = new float[N * OC], di = new float[N * C], dw = new float[OC * C], db = new float[OC];
            ops.matmulForward(out, inp, w, b, N, C, OC);
            ops.matmulBackward(di, dw, db, dout, inp, w, N, C, OC);
            float[] ao = new float[B * T * nh * hd], st = new float[B * nh * T], dq = new float[B * T * W];
            ops.attentionForward(ao, st, qkv, B, T, nh, nkv, hd);
            ops.attentionBackward(dq, adout, qkv, ao, st, B, T, nh, nkv, hd);
            float[] ln = new float[N * C], mean = new float[N], rstd = new float[N], lw = new float[C];
            ops.layerNormForward(ln, mean, rstd, inp, gw, gb, N, C, 1e-5f);
            ops.layerNormBackward(ln, lw, null, inp, inp, gw, mean, rstd, N, C);
            float[][] all = {out, di, dw, db, ao, st, dq, ln, lw, {(float) ops.sumSquares(dw, dw.length)}};
            if (first == null) {
                first = all;
            } else {
                for (int i = 0; i < all.length; i++) {
                    assertArrayEquals(first[i], all[i], 0f, "output " + i + " differs between thread counts");
                }
            }
        }
    }
}
