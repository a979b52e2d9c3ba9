package io.resflow.jvm;

import jdk.incubator.vector.FloatVector;

/**
 * Attention of new rows over a KV cache (the jvm kernel of {@link io.resflow.reference.Attention#decode}): decoding
 * one sequence. The new rows' k and v are copied into the caches at their positions; then one task per
 * (query head, new row) computes
 * <pre>
 * s[j] = q . k[j] / sqrt(hd)   for j = 0 .. pos0+t     (Vector API dot products, lanes summed in index order)
 * p    = softmax(s)                                     (VMath.exp, scalar)
 * out  = sum_j p[j] v[j]                                (Vector API over hd)
 * </pre>
 * reading the cache rows once per head. Every output has one writer and a fixed order of operations, so the result
 * does not depend on the thread count.
 */
final class AttentionDecode extends JvmOp {
    private final Job job = new Job();

    AttentionDecode(Exec x) {
        super(x);
    }

    // qkv (T,(nh+2 nkv) hd) at positions pos0 .. pos0+T-1; kCache, vCache (cap, nkv hd) -> out (T, nh hd)
    void forward(float[] out, float[] kCache, float[] vCache, float[] qkv, int T, int pos0, int nh, int nkv, int hd) {
        int width = (nh + 2 * nkv) * hd;
        int kvw = nkv * hd;
        for (int t = 0; t < T; t++) {
            System.arraycopy(qkv, t * width + nh * hd, kCache, (pos0 + t) * kvw, kvw);
            System.arraycopy(qkv, t * width + nh * hd + kvw, vCache, (pos0 + t) * kvw, kvw);
        }
        Job j = job;
        j.out = out;
        j.k = kCache;
        j.v = vCache;
        j.qkv = qkv;
        j.T = T;
        j.pos0 = pos0;
        j.nh = nh;
        j.nkv = nkv;
        j.hd = hd;
        j.scale = (float) (1.0 / Math.sqrt(hd));
        x.run(j, nh * T);
    }

    private static final class Job extends WorkerPool.Job {
        float[] out, k, v, qkv;
        int T, pos0, nh, nkv, hd;
        float scale;

        @Override
        public void task(int i, Scratch s) {
            int h = i % nh;
            int t = i / nh;
            int width = (nh + 2 * nkv) * hd;
            int kvw = nkv * hd;
            int kvh = h / (nh / nkv);
            int q = t * width + h * hd;
            int last = pos0 + t;
            int vec = SP.loopBound(hd);
            float[] sc = s.get(Scratch.ATT_S, last + 1);
            float[] lanes = s.get(Scratch.LANES, 2 * L);
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j <= last; j++) {
                int kr = j * kvw + kvh * hd;
                FloatVector acc = FloatVector.zero(SP);
                for (int d = 0; d < vec; d += L) {
                    acc = FloatVector.fromArray(SP, qkv, q + d)
                            .fma(FloatVector.fromArray(SP, k, kr + d), acc);
                }
                acc.intoArray(lanes, 0);
                float dot = VMath.sumLanes(lanes, 0);
                for (int d = vec; d < hd; d++) {
                    dot += qkv[q + d] * k[kr + d];
                }
                float score = dot * scale;
                sc[j] = score;
                max = Math.max(max, score);
            }
            float sum = 0f;
            for (int j = 0; j <= last; j++) {
                float e = VMath.exp(sc[j] - max);
                sc[j] = e;
                sum += e;
            }
            float inv = 1f / sum;
            int o = t * nh * hd + h * hd;
            for (int d = 0; d < vec; d += L) {
                FloatVector acc = FloatVector.zero(SP);
                for (int j = 0; j <= last; j++) {
                    acc = FloatVector.fromArray(SP, v, j * kvw + kvh * hd + d).fma(FloatVector.broadcast(SP, sc[j]),
                            acc);
                }
                acc.mul(inv).intoArray(out, o + d);
            }
            for (int d = vec; d < hd; d++) {
                float acc = 0f;
                for (int j = 0; j <= last; j++) {
                    acc += sc[j] * v[j * kvw + kvh * hd + d];
                }
                out[o + d] = acc * inv;
            }
        }
    }
}
