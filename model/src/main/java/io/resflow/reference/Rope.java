package io.resflow.reference;

/**
 * Rotary position embedding, rotate-half convention (Hugging Face Llama): within each q and k head, dimension j is
 * paired with j + hd/2 and rotated by the angle t * theta^(-2j/hd):
 * x'_j = x_j cos - x_{j+hd/2} sin,  x'_{j+hd/2} = x_{j+hd/2} cos + x_j sin.
 * The backward applies the transposed rotation (angle -a) to the gradient.
 */
public final class Rope {
    private Rope() {
    }

    // qkv (B,T,(nh+2 nkv) hd), in place on the q and k heads
    public static void forward(float[] qkv, int B, int T, int nh, int nkv, int hd, double theta) {
        rotate(qkv, B, T, nh, nkv, hd, theta, 1.0);
    }

    // dqkv (B,T,(nh+2 nkv) hd), in place on the q and k heads
    public static void backward(float[] dqkv, int B, int T, int nh, int nkv, int hd, double theta) {
        rotate(dqkv, B, T, nh, nkv, hd, theta, -1.0);
    }

    // decoding one sequence: qkv (T,(nh+2 nkv) hd) at positions pos0 .. pos0+T-1, in place on the q and k heads
    public static void forwardAt(float[] qkv, int T, int pos0, int nh, int nkv, int hd, double theta) {
        int width = (nh + 2 * nkv) * hd;
        for (int t = 0; t < T; t++) {
            rotateRow(qkv, t * width, pos0 + t, nh, nkv, hd, theta, 1.0);
        }
    }

    private static void rotate(float[] x, int B, int T, int nh, int nkv, int hd, double theta, double sign) {
        int width = (nh + 2 * nkv) * hd;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                rotateRow(x, (b * T + t) * width, t, nh, nkv, hd, theta, sign);
            }
        }
    }

    private static void rotateRow(float[] x, int row, int t, int nh, int nkv, int hd, double theta, double sign) {
        int half = hd / 2;
        for (int head = 0; head < nh + nkv; head++) { // q heads, then k heads (contiguous)
            int base = row + head * hd;
            for (int j = 0; j < half; j++) {
                double angle = t * Math.pow(theta, -2.0 * j / hd);
                double cos = Math.cos(angle);
                double sin = sign * Math.sin(angle);
                double a = x[base + j];
                double c = x[base + j + half];
                x[base + j] = (float) (a * cos - c * sin);
                x[base + j + half] = (float) (c * cos + a * sin);
            }
        }
    }
}
