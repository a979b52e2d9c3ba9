package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Token (+ learned position) embedding and its gradient. The device token array holds [inputs (N) | targets (N) |
 * first (N)], where first[n] is the first position holding the same input token as n.
 *
 * <p>The token-embedding gradient is a scatter-add (several positions may hold the same token) and float atomics are
 * not portable, so it is made deterministic instead: one work-item per (position, channel), and only the first
 * occurrence of a token sums the gradients of every position holding it, in position order, into that row. Cost
 * O(N^2 C) in the worst case, negligible next to the matmuls for the sequence lengths trained here.
 */
public final class EmbeddingKernels {
    public static final int F_OUT = 0, F_WTE = 1, F_WPE = 2, F_T = 3, F_N = 4, F_C = 5;
    public static final int BT_WTE = 0, BT_DOUT = 1, BT_N = 2, BT_C = 3;
    public static final int BP_WPE = 0, BP_DOUT = 1, BP_B = 2, BP_T = 3, BP_C = 4;

    private EmbeddingKernels() {
    }

    // tokens: host inputs|targets (2N) -> device tok[0..2N), first occurrences -> tok[2N..3N). Launch: N work-items.
    public static void loadTokens(KernelContext ctx, IntArray src, IntArray tok, IntArray m) {
        int n = m.get(0);
        int i = ctx.globalIdx;
        if (i < n) {
            int t = src.get(i);
            tok.set(i, t);
            tok.set(n + i, src.get(n + i));
            int first = i;
            for (int j = i - 1; j >= 0; j--) {
                if (src.get(j) == t) {
                    first = j;
                }
            }
            tok.set(2 * n + i, first);
        }
    }

    // tok, p: wte (V,C), wpe (P,C) or F_WPE < 0 -> act: out (N,C). Launch: N*C work-items.
    public static void forward(KernelContext ctx, FloatArray act, FloatArray p, IntArray tok, IntArray m) {
        int c = m.get(F_C);
        int idx = ctx.globalIdx;
        if (idx < m.get(F_N) * c) {
            int n = idx / c;
            int i = idx % c;
            float x = p.get(m.get(F_WTE) + tok.get(n) * c + i);
            int wpe = m.get(F_WPE);
            if (wpe >= 0) {
                x += p.get(wpe + (n % m.get(F_T)) * c + i);
            }
            act.set(m.get(F_OUT) + idx, x);
        }
    }

    // decoding: step = [token, position] -> act: out (C) = wte[token] (+ wpe[position]); m = [out, wte, wpe or -1, C].
    // Launch: C work-items.
    public static void forwardAt(KernelContext ctx, FloatArray act, FloatArray p, IntArray step, IntArray m) {
        int c = m.get(3);
        int i = ctx.globalIdx;
        if (i < c) {
            float x = p.get(m.get(1) + step.get(0) * c + i);
            int wpe = m.get(2);
            if (wpe >= 0) {
                x += p.get(wpe + step.get(1) * c + i);
            }
            act.set(m.get(0) + i, x);
        }
    }

    // dact: dout (N,C) -> g: dwte[token] += sum of dout over the positions holding it. Launch: N*C work-items.
    public static void backwardTokens(KernelContext ctx, FloatArray g, FloatArray dact, IntArray tok, IntArray m) {
        int n = m.get(BT_N);
        int c = m.get(BT_C);
        int idx = ctx.globalIdx;
        if (idx < n * c) {
            int pos = idx / c;
            int i = idx % c;
            if (tok.get(2 * n + pos) == pos) {
                int t = tok.get(pos);
                int dout = m.get(BT_DOUT);
                float s = 0f;
                for (int j = pos; j < n; j++) {
                    if (tok.get(j) == t) {
                        s += dact.get(dout + j * c + i);
                    }
                }
                int w = m.get(BT_WTE) + t * c + i;
                g.set(w, g.get(w) + s);
            }
        }
    }

    // dact: dout (B,T,C) -> g: dwpe[t] = sum_b dout[b,t] (=). Launch: T*C work-items.
    public static void backwardPositions(KernelContext ctx, FloatArray g, FloatArray dact, IntArray m) {
        int ts = m.get(BP_T);
        int c = m.get(BP_C);
        int idx = ctx.globalIdx;
        if (idx < ts * c) {
            int dout = m.get(BP_DOUT);
            int bs = m.get(BP_B);
            float s = 0f;
            for (int b = 0; b < bs; b++) {
                s += dact.get(dout + b * ts * c + idx);
            }
            g.set(m.get(BP_WPE) + idx, s);
        }
    }
}
