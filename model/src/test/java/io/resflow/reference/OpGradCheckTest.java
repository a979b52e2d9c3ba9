package io.resflow.reference;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.check.FiniteDifference;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;

/**
 * Finite-difference gradient check of every reference op. Each test builds random inputs, takes the scalar
 * L = sum(R * out) for a fixed random R (so dL/dout = R), runs the op's backward with dout = R, and compares every
 * input gradient with central differences of L, computed and compared in double.
 */
class OpGradCheckTest {
    private static final double STEP = 1e-3;
    private static final double TOL = 2e-3;
    private final SplittableRandom rnd = new SplittableRandom(42);

    private float[] rand(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        }
        return a;
    }

    private static double dot(float[] a, float[] r) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * r[i];
        }
        return s;
    }

    private static void check(String name, float[] x, float[] analytic, DoubleSupplier loss) {
        FiniteDifference.Result res = FiniteDifference.compare(name, x, analytic, FiniteDifference.sample(x.length, 400),
                STEP, loss);
        assertTrue(res.maxAbsGrad() > 0, name + ": numerical gradient is identically zero, the check would be vacuous");
        assertTrue(res.ok(TOL), name + ": analytic vs numerical gradient rel_l2 " + res.relL2() + " (max abs err "
                + res.maxAbsErr() + ")");
    }

    @Test
    void matmul() {
        int N = 5, C = 7, OC = 6;
        float[] inp = rand(N * C, 1), w = rand(OC * C, 1), b = rand(OC, 1), r = rand(N * OC, 1);
        float[] out = new float[N * OC];
        DoubleSupplier loss = () -> {
            Matmul.forward(out, inp, w, b, N, C, OC);
            return dot(out, r);
        };
        float[] dinp = new float[N * C], dw = new float[OC * C], db = new float[OC];
        Matmul.backward(dinp, dw, db, r, inp, w, N, C, OC);
        check("matmul.inp", inp, dinp, loss);
        check("matmul.weight", w, dw, loss);
        check("matmul.bias", b, db, loss);
    }

    @Test
    void embedding() {
        int B = 2, T = 3, C = 4, V = 5;
        int[] tokens = {1, 4, 1, 0, 2, 1};
        float[] wte = rand(V * C, 1), wpe = rand(T * C, 1), r = rand(B * T * C, 1), out = new float[B * T * C];
        DoubleSupplier loss = () -> {
            Embedding.forward(out, tokens, wte, wpe, B, T, C);
            return dot(out, r);
        };
        float[] dwte = new float[V * C], dwpe = new float[T * C];
        Embedding.backward(dwte, dwpe, r, tokens, B, T, C);
        check("embedding.wte", wte, dwte, loss);
        check("embedding.wpe", wpe, dwpe, loss);
    }

    @Test
    void layerNorm() {
        int N = 4, C = 9;
        float[] inp = rand(N * C, 2), w = rand(C, 1), b = rand(C, 1), r = rand(N * C, 1);
        float[] out = new float[N * C], mean = new float[N], rstd = new float[N];
        DoubleSupplier loss = () -> {
            LayerNorm.forward(out, mean, rstd, inp, w, b, N, C, 1e-5f);
            return dot(out, r);
        };
        loss.getAsDouble();
        float[] dinp = new float[N * C], dw = new float[C], db = new float[C];
        LayerNorm.backward(dinp, dw, db, r, inp, w, mean, rstd, N, C);
        check("layernorm.inp", inp, dinp, loss);
        check("layernorm.weight", w, dw, loss);
        check("layernorm.bias", b, db, loss);
    }

    @Test
    void rmsNorm() {
        int N = 4, C = 9;
        float[] inp = rand(N * C, 2), w = rand(C, 1), r = rand(N * C, 1);
        float[] out = new float[N * C], rstd = new float[N];
        DoubleSupplier loss = () -> {
            RmsNorm.forward(out, rstd, inp, w, N, C, 1e-5f);
            return dot(out, r);
        };
        loss.getAsDouble();
        float[] dinp = new float[N * C], dw = new float[C];
        RmsNorm.backward(dinp, dw, r, inp, w, rstd, N, C);
        check("rmsnorm.inp", inp, dinp, loss);
        check("rmsnorm.weight", w, dw, loss);
    }

    private void attention(int nh, int nkv) {
        int B = 2, T = 5, hd = 4;
        int width = (nh + 2 * nkv) * hd;
        float[] qkv = rand(B * T * width, 1), r = rand(B * T * nh * hd, 1);
        float[] out = new float[B * T * nh * hd], probs = new float[(int) Attention.stateSize(B, T, nh)];
        DoubleSupplier loss = () -> {
            Attention.forward(out, probs, qkv, B, T, nh, nkv, hd);
            return dot(out, r);
        };
        loss.getAsDouble();
        float[] dqkv = new float[qkv.length];
        Attention.backward(dqkv, r, qkv, probs, B, T, nh, nkv, hd);
        check("attention(nh=" + nh + ",nkv=" + nkv + ").qkv", qkv, dqkv, loss);
    }

    @Test
    void attentionMultiHead() {
        attention(3, 3);
    }

    @Test
    void attentionGroupedQuery() {
        attention(4, 2);
    }

    @Test
    void rope() {
        int B = 2, T = 6, nh = 2, nkv = 1, hd = 6;
        int width = (nh + 2 * nkv) * hd;
        float[] qkv = rand(B * T * width, 1), r = rand(qkv.length, 1);
        float[] work = new float[qkv.length];
        DoubleSupplier loss = () -> {
            System.arraycopy(qkv, 0, work, 0, qkv.length);
            Rope.forward(work, B, T, nh, nkv, hd, 10000.0);
            return dot(work, r);
        };
        float[] d = r.clone();
        Rope.backward(d, B, T, nh, nkv, hd, 10000.0);
        check("rope.qkv", qkv, d, loss);
        // the v part passes through untouched
        for (int row = 0; row < B * T; row++) {
            for (int i = (nh + nkv) * hd; i < width; i++) {
                assertTrue(d[row * width + i] == r[row * width + i], "rope must not touch v");
            }
        }
    }

    @Test
    void gelu() {
        int n = 50;
        float[] inp = rand(n, 4), r = rand(n, 1), out = new float[n];
        DoubleSupplier loss = () -> {
            Gelu.forward(out, inp, n);
            return dot(out, r);
        };
        float[] dinp = new float[n];
        Gelu.backward(dinp, inp, r, n);
        check("gelu.inp", inp, dinp, loss);
    }

    @Test
    void swiglu() {
        int N = 3, F = 7;
        float[] inp = rand(N * 2 * F, 3), r = rand(N * F, 1), out = new float[N * F];
        DoubleSupplier loss = () -> {
            SwiGlu.forward(out, inp, N, F);
            return dot(out, r);
        };
        float[] dinp = new float[inp.length];
        SwiGlu.backward(dinp, inp, r, N, F);
        check("swiglu.inp", inp, dinp, loss);
    }

    @Test
    void crossEntropy() {
        int N = 4, V = 11;
        float[] logits = rand(N * V, 3), probs = new float[N * V], losses = new float[N];
        int[] targets = {3, 0, 10, 3};
        DoubleSupplier loss = () -> CrossEntropy.forward(losses, probs, logits, targets, N, V);
        loss.getAsDouble();
        float[] dlogits = new float[N * V];
        CrossEntropy.backward(dlogits, probs, targets, N, V);
        check("crossentropy.logits", logits, dlogits, loss);
    }

    @Test
    void residualAdd() {
        int n = 20;
        float alpha = 1.7f;
        float[] skip = rand(n, 1), branch = rand(n, 1), r = rand(n, 1), out = new float[n];
        float[] gate = {0.6f};
        DoubleSupplier loss = () -> {
            ResidualAdd.forward(out, skip, alpha, branch, gate[0], n);
            return dot(out, r);
        };
        float[] dskip = new float[n], dbranch = new float[n];
        float[] dgate = {(float) ResidualAdd.backward(dskip, dbranch, r, alpha, branch, gate[0], n)};
        check("residual.skip", skip, dskip, loss);
        check("residual.branch", branch, dbranch, loss);
        check("residual.gate", gate, dgate, loss);
        // the skip path carries the gradient straight through: dskip = alpha * dout exactly
        float[] expect = new float[n];
        for (int i = 0; i < n; i++) {
            expect[i] = (float) ((double) alpha * r[i]);
        }
        assertTrue(Arrays.equals(expect, dskip), "skip gradient must be alpha * dout");
    }

    @Test
    void adamwMatchesFormula() {
        float[] p = {0.5f, -1f, 2f}, g = {0.1f, -0.2f, 0f}, m = new float[3], v = new float[3];
        AdamWUpdate.step(p, g, m, v, 3, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, 1, 1f);
        // step 1: m_hat = g, v_hat = g^2, so the update is lr * (sign(g) + wd * p)
        assertTrue(Math.abs(p[0] - (0.5 - 0.01 * (1 + 0.1 * 0.5))) < 1e-6);
        assertTrue(Math.abs(p[1] - (-1 - 0.01 * (-1 + 0.1 * -1))) < 1e-6);
        assertTrue(Math.abs(p[2] - (2 - 0.01 * (0 + 0.1 * 2))) < 1e-6);
    }
}
