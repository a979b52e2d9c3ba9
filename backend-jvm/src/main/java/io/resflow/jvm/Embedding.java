package io.resflow.jvm;

/**
 * Token and learned position embedding (the jvm kernels of {@link io.resflow.reference.Embedding}).
 * Forward is row-parallel; backward is column-partitioned, so each task owns a slice of columns of dwte/dwpe and
 * walks all rows in order (a fixed summation order for repeated tokens, no write conflicts).
 *
 * <p>Plain loops, no Vector API: this runs once per step, and rarely-run Vector API code stays interpreted (slow and
 * allocating) for many steps; C2 vectorises these loops itself.
 */
final class Embedding extends JvmOp {
    private final Fwd fwd = new Fwd();
    private final Bwd bwd = new Bwd();

    Embedding(Exec x) {
        super(x);
    }

    // tokens (B,T), wte (V,C), wpe (P,C) or null -> out (B,T,C)
    void forward(float[] out, int[] tokens, float[] wte, float[] wpe, int B, int T, int C) {
        forward(out, tokens, wte, wpe, B * T, T, 0, C);
    }

    // decoding one sequence: tokens (T) at positions pos0 .. pos0+T-1 -> out (T,C)
    void forwardAt(float[] out, int[] tokens, float[] wte, float[] wpe, int T, int pos0, int C) {
        forward(out, tokens, wte, wpe, T, T, pos0, C);
    }

    // rows of tokens, row r at position pos0 + r % T
    private void forward(float[] out, int[] tokens, float[] wte, float[] wpe, int rows, int T, int pos0, int C) {
        Fwd j = fwd;
        j.out = out;
        j.tokens = tokens;
        j.wte = wte;
        j.wpe = wpe;
        j.T = T;
        j.pos0 = pos0;
        j.C = C;
        j.rows = rows;
        j.tasks = x.rowTasks(j.rows, C);
        x.run(j, j.tasks);
    }

    // dout (B,T,C) -> dwte (V,C) += scatter, dwpe (P,C) += (either may be null). add false: every row stored, 0
    // where no token or position landed; a scatter cannot store what it does not visit, so each task clears its
    // columns of the arrays first (while they are its own, in one pass) and then adds
    void backward(float[] dwte, float[] dwpe, float[] dout, int[] tokens, int B, int T, int C, boolean add) {
        Bwd j = bwd;
        j.add = add;
        j.dwte = dwte;
        j.dwpe = dwpe;
        j.dout = dout;
        j.tokens = tokens;
        j.T = T;
        j.C = C;
        j.rows = B * T;
        x.run(j, (C + Exec.cols() - 1) / Exec.cols());
    }

    private static final class Fwd extends WorkerPool.Job {
        float[] out, wte, wpe;
        int[] tokens;
        int T, pos0, C, rows, tasks;

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
                    int pos = (pos0 + r % T) * C;
                    for (int c = 0; c < C; c++) {
                        out[o + c] = wte[tok + c] + wpe[pos + c];
                    }
                }
            }
        }
    }

    private static final class Bwd extends WorkerPool.Job {
        float[] dwte, dwpe, dout;
        int[] tokens;
        boolean add;
        int T, C, rows;

        @Override
        public void task(int i, Scratch s) {
            int c0 = i * Exec.cols();
            int c1 = Math.min(C, c0 + Exec.cols());
            if (!add) {
                clearColumns(dwte, C, c0, c1);
                clearColumns(dwpe, C, c0, c1);
            }
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

    /** Columns [c0, c1) of every row of a (rows, C) array set to 0 (nothing when a is null). */
    private static void clearColumns(float[] a, int C, int c0, int c1) {
        if (a != null) {
            for (int o = 0; o < a.length; o += C) {
                java.util.Arrays.fill(a, o + c0, o + c1, 0f);
            }
        }
    }

    /** dst[d + c] += src[s + c] for c in [c0, c1). */
    private static void addRow(float[] dst, int d, float[] src, int s, int c0, int c1) {
        for (int c = c0; c < c1; c++) {
            dst[d + c] += src[s + c];
        }
    }
}
