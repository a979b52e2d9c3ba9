package io.resflow.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parameter tensors of a model, in a fixed order, with internal names:
 * <pre>
 * wte                (V, C)        token embedding (also the output head when tied)
 * wpe                (P, C)        learned positions only
 * h.{i}.ln1.w/.b     (C)           norm of the attention block (no norms under rezero)
 * h.{i}.qkv.w/.b     (QKV, C)      fused q|k|v projection, QKV = (n_head + 2 n_kv_head) head_dim
 * h.{i}.attn_proj.w/.b (C, n_head head_dim)
 * h.{i}.attn_alpha   (1)           rezero gate of the attention block
 * h.{i}.ln2.w/.b     (C)
 * h.{i}.fc.w/.b      (FC, C)       FC = d_ff (GELU) or 2 d_ff (SwiGLU: gate rows, then up rows)
 * h.{i}.mlp_proj.w/.b (C, d_ff)
 * h.{i}.mlp_alpha    (1)
 * lnf.w/.b           (C)
 * lm_head            (V, C)        untied head only
 * </pre>
 */
public final class ParamLayout {
    private final ModelConfig config;
    private final List<ParamSpec> specs;
    private final Map<String, ParamSpec> byName;

    private ParamLayout(ModelConfig config, List<ParamSpec> specs) {
        this.config = config;
        this.specs = Collections.unmodifiableList(specs);
        Map<String, ParamSpec> m = new LinkedHashMap<>();
        for (ParamSpec s : specs) {
            m.put(s.name(), s);
        }
        this.byName = Collections.unmodifiableMap(m);
    }

    public static ParamLayout of(ModelConfig c) {
        List<ParamSpec> s = new ArrayList<>();
        int C = c.dModel();
        double std = 0.02;
        int L = c.nLayer();
        // GPT-2 scales the projections that write into the residual stream by 1/sqrt(2L);
        // DeepNet replaces that with beta = (8N)^(-1/4) on v, o and both MLP projections.
        double residualScale = 1.0 / Math.sqrt(2.0 * L);
        double beta = Math.pow(8.0 * L, -0.25);
        boolean deep = c.residual() == Residual.DEEPNORM;
        s.add(new ParamSpec("wte", new int[] {c.vocabSize(), C}, ParamSpec.Init.NORMAL, std));
        if (c.learnedPositions()) {
            s.add(new ParamSpec("wpe", new int[] {c.maxSeqLen(), C}, ParamSpec.Init.NORMAL, std));
        }
        for (int i = 0; i < L; i++) {
            LayerBlock a = LayerBlock.of(i, true);
            LayerBlock m = LayerBlock.of(i, false);
            if (c.residual().hasBlockNorms()) {
                norm(s, c, a.norm());
            }
            // qkv: under deepnorm only the v rows get beta; handled by Initializer via the spec name.
            s.add(new ParamSpec(a.in() + ".w", new int[] {c.qkvDim(), C}, ParamSpec.Init.NORMAL, std));
            bias(s, c, a.in() + ".b", c.qkvDim());
            s.add(new ParamSpec(a.out() + ".w", new int[] {C, c.qDim()}, ParamSpec.Init.NORMAL, std * (deep ? beta : residualScale)));
            bias(s, c, a.out() + ".b", C);
            if (c.residual() == Residual.REZERO) {
                s.add(new ParamSpec(a.gate(), new int[] {1}, ParamSpec.Init.ZEROS, 0));
            }
            if (c.residual().hasBlockNorms()) {
                norm(s, c, m.norm());
            }
            s.add(new ParamSpec(m.in() + ".w", new int[] {c.fcDim(), C}, ParamSpec.Init.NORMAL, std * (deep ? beta : 1.0)));
            bias(s, c, m.in() + ".b", c.fcDim());
            s.add(new ParamSpec(m.out() + ".w", new int[] {C, c.dFf()}, ParamSpec.Init.NORMAL, std * (deep ? beta : residualScale)));
            bias(s, c, m.out() + ".b", C);
            if (c.residual() == Residual.REZERO) {
                s.add(new ParamSpec(m.gate(), new int[] {1}, ParamSpec.Init.ZEROS, 0));
            }
        }
        norm(s, c, "lnf");
        if (!c.tieEmbeddings()) {
            s.add(new ParamSpec("lm_head", new int[] {c.vocabSize(), C}, ParamSpec.Init.NORMAL, std));
        }
        return new ParamLayout(c, s);
    }

    private static void norm(List<ParamSpec> s, ModelConfig c, String name) {
        s.add(new ParamSpec(name + ".w", new int[] {c.dModel()}, ParamSpec.Init.ONES, 0));
        if (c.normBias()) {
            s.add(new ParamSpec(name + ".b", new int[] {c.dModel()}, ParamSpec.Init.ZEROS, 0));
        }
    }

    private static void bias(List<ParamSpec> s, ModelConfig c, String name, int n) {
        if (c.linearBias()) {
            s.add(new ParamSpec(name, new int[] {n}, ParamSpec.Init.ZEROS, 0));
        }
    }

    public ModelConfig config() {
        return config;
    }

    public List<ParamSpec> specs() {
        return specs;
    }

    public ParamSpec spec(String name) {
        return byName.get(name);
    }

    public boolean has(String name) {
        return byName.containsKey(name);
    }

    public long totalSize() {
        long n = 0;
        for (ParamSpec s : specs) {
            n += s.size();
        }
        return n;
    }
}
