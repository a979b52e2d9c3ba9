package io.resflow.model;

import java.util.SplittableRandom;

/**
 * Deterministic seeded initialisation on the host, identical for every backend. GPT-2 style: normal(0, 0.02),
 * projections into the residual stream scaled by 1/sqrt(2 n_layer), norms at 1, biases at 0. DeepNet
 * ({@code residual: deepnorm}) scales the v rows of qkv, the attention output and both MLP projections by
 * beta = (8N)^(-1/4) instead. Each tensor draws from its own stream seeded by (init_seed, name), so a tensor's values
 * do not depend on how many layers come before it.
 */
public final class Initializer {
    private Initializer() {
    }

    public static Params init(ModelConfig c) {
        ParamLayout layout = ParamLayout.of(c);
        Params p = new Params();
        for (ParamSpec s : layout.specs()) {
            Tensor t = Tensor.zeros(s.name(), s.shape());
            float[] d = t.data();
            switch (s.init()) {
                case ONES -> java.util.Arrays.fill(d, 1f);
                case ZEROS -> { }
                case NORMAL -> fillNormal(d, s.scale(), new SplittableRandom(seedFor(c.initSeed(), s.name())));
            }
            if (c.residual() == Residual.DEEPNORM && s.name().endsWith(".qkv.w")) {
                double beta = Math.pow(8.0 * c.nLayer(), -0.25);
                int from = (c.qDim() + c.kvDim()) * c.dModel();
                for (int i = from; i < d.length; i++) {
                    d[i] = (float) (d[i] * beta);
                }
            }
            p.put(t);
        }
        return p;
    }

    static long seedFor(long seed, String name) {
        long h = seed * 0x9E3779B97F4A7C15L;
        for (int i = 0; i < name.length(); i++) {
            h = (h ^ name.charAt(i)) * 0x100000001B3L;
        }
        return h;
    }

    private static void fillNormal(float[] d, double std, SplittableRandom r) {
        // Box-Muller: two standard normals per pair of uniforms.
        for (int i = 0; i < d.length; i += 2) {
            double u1 = 1.0 - r.nextDouble();
            double u2 = r.nextDouble();
            double rad = Math.sqrt(-2.0 * Math.log(u1));
            d[i] = (float) (std * rad * Math.cos(2 * Math.PI * u2));
            if (i + 1 < d.length) {
                d[i + 1] = (float) (std * rad * Math.sin(2 * Math.PI * u2));
            }
        }
    }
}
