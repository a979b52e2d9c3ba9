package io.resflow.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.safetensors.SafeTensorsFile;
import io.resflow.safetensors.SafeTensorsWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfWeightsTest {

    @TempDir
    Path dir;

    private static Path vectors(String name) {
        return ModelConfigsTest.testVectors(name);
    }

    /** Every tensor of a safetensors file, by name, in file order. */
    private static Map<String, Tensor> readAll(Path file) {
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            for (String n : st.names()) {
                m.put(n, st.tensor(n));
            }
            return m;
        }
    }

    /** Rewrites a model file into the temp dir, renaming (null name drops), and optionally adding tensors. */
    private Path rewrite(Path src, UnaryOperator<Tensor> edit, Tensor... extra) {
        List<Tensor> out = new ArrayList<>();
        for (Tensor t : readAll(src).values()) {
            Tensor e = edit.apply(t);
            if (e != null) {
                out.add(e);
            }
        }
        out.addAll(List.of(extra));
        Path f = dir.resolve("model.safetensors");
        SafeTensorsWriter.write(f, out, Map.of("format", "pt"));
        return f;
    }

    private static void assertSameTensors(Map<String, Tensor> expected, Map<String, Tensor> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        for (Tensor e : expected.values()) {
            Tensor a = actual.get(e.name());
            assertArrayEquals(e.shape(), a.shape(), e.name());
            assertArrayEquals(e.data(), a.data(), e.name());
        }
    }

    private BadInputException loadFails(Path file, ModelConfig c, String... fragments) {
        BadInputException e = assertThrows(BadInputException.class, () -> HfWeights.load(file, c));
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "'" + f + "' not in: " + e.getMessage());
        }
        return e;
    }

    @Test
    void gpt2LoadsAndRoundTrips() {
        Path d = vectors("gpt2-tiny");
        ModelConfig c = ModelConfigs.load(d);
        Params p = HfWeights.load(d, c);
        assertEquals(ParamLayout.of(c).specs().stream().map(ParamSpec::name).toList(), List.copyOf(p.names()));
        Map<String, Tensor> orig = readAll(d.resolve("model.safetensors"));
        // Conv1D [in, out] is transposed: qkv.w[o][i] == c_attn.weight[i][o]
        float[] cAttn = orig.get("transformer.h.1.attn.c_attn.weight").data();
        float[] qkv = p.data("h.1.qkv.w");
        assertEquals(cAttn[5 * 192 + 130], qkv[130 * 64 + 5]);
        assertEquals(HfWeights.GPT2_PREFIX, HfWeights.detectGpt2Prefix(orig.keySet()));
        assertSameTensors(orig, HfWeights.toHf(p, c, "transformer."));
    }

    @Test
    void llamaLoadsAndRoundTrips() {
        Path d = vectors("llama-tiny");
        ModelConfig c = ModelConfigs.load(d);
        Params p = HfWeights.load(d.resolve("model.safetensors"), c);
        assertArrayEquals(new int[] {128, 64}, p.get("h.0.qkv.w").shape());
        assertArrayEquals(new int[] {352, 64}, p.get("h.0.fc.w").shape());
        Map<String, Tensor> orig = readAll(d.resolve("model.safetensors"));
        // k rows follow the 64 q rows; up rows follow the 176 gate rows
        assertEquals(orig.get("model.layers.1.self_attn.k_proj.weight").data()[3 * 64 + 7], p.data("h.1.qkv.w")[(64 + 3) * 64 + 7]);
        assertEquals(orig.get("model.layers.1.mlp.up_proj.weight").data()[2 * 64 + 1], p.data("h.1.fc.w")[(176 + 2) * 64 + 1]);
        assertSameTensors(orig, HfWeights.toHf(p, c, ""));
    }

    @Test
    void gpt2WithoutPrefixAndWithBuffers() {
        Path d = vectors("gpt2-tiny");
        ModelConfig c = ModelConfigs.load(d);
        Tensor mask = Tensor.zeros("h.0.attn.bias", 1, 1, 32, 32);
        Tensor masked = Tensor.zeros("h.1.attn.masked_bias", 1);
        Path f = rewrite(d.resolve("model.safetensors"),
                t -> new Tensor(t.name().substring("transformer.".length()), t.shape(), t.data()), mask, masked);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertEquals("", HfWeights.detectGpt2Prefix(st));
        }
        Params p = HfWeights.load(dir, c);
        Params ref = HfWeights.load(d, c);
        for (String n : ref.names()) {
            assertArrayEquals(ref.data(n), p.data(n), n);
        }
        assertTrue(HfWeights.toHf(p, c, "").containsKey("wte.weight"));
    }

    @Test
    void gpt2TiedHeadPresentIsIgnored() {
        Path d = vectors("gpt2-tiny");
        ModelConfig c = ModelConfigs.load(d);
        Map<String, Tensor> orig = readAll(d.resolve("model.safetensors"));
        Tensor wte = orig.get("transformer.wte.weight");
        Path f = rewrite(d.resolve("model.safetensors"), t -> t, new Tensor("lm_head.weight", wte.shape(), wte.data()));
        assertEquals(ParamLayout.of(c).specs().size(), HfWeights.load(f, c).names().size());
    }

    @Test
    void missingTensor() {
        Path d = vectors("gpt2-tiny");
        ModelConfig c = ModelConfigs.load(d);
        Path f = rewrite(d.resolve("model.safetensors"), t -> t.name().equals("transformer.h.1.mlp.c_fc.bias") ? null : t);
        loadFails(f, c, "missing tensor 'transformer.h.1.mlp.c_fc.bias'", "[256]");
    }

    @Test
    void extraTensor() {
        Path d = vectors("llama-tiny");
        ModelConfig c = ModelConfigs.load(d);
        Path f = rewrite(d.resolve("model.safetensors"), t -> t, Tensor.zeros("model.layers.0.self_attn.q_norm.weight", 16));
        loadFails(f, c, "unexpected tensor 'model.layers.0.self_attn.q_norm.weight'", "[16]");
        // a config with fewer layers than the file: the extra layer is unexpected
        loadFails(d.resolve("model.safetensors"), c.withLayers(1), "unexpected tensor 'model.layers.1.");
    }

    @Test
    void rotaryBuffersIgnored() {
        Path d = vectors("llama-tiny");
        ModelConfig c = ModelConfigs.load(d);
        Path f = rewrite(d.resolve("model.safetensors"), t -> t, Tensor.zeros("model.layers.0.self_attn.rotary_emb.inv_freq", 8));
        assertEquals(ParamLayout.of(c).specs().size(), HfWeights.load(f, c).names().size());
    }

    @Test
    void wrongShape() {
        Path d = vectors("llama-tiny");
        ModelConfig c = ModelConfigs.load(d);
        Path f = rewrite(d.resolve("model.safetensors"), t -> t.name().equals("model.layers.1.self_attn.v_proj.weight")
                ? Tensor.zeros(t.name(), 64, 64) : t);
        loadFails(f, c, "'model.layers.1.self_attn.v_proj.weight'", "[64, 64]", "[32, 64]");
        // the same file read with a config whose d_ff disagrees
        ModelConfig other = new ModelConfig(c.family(), c.nLayer(), c.dModel(), c.nHead(), c.nKvHead(), c.headDim(), 128,
                c.vocabSize(), c.maxSeqLen(), c.norm(), c.normEps(), c.activation(), c.positions(), c.ropeTheta(),
                c.tieEmbeddings(), c.residual(), c.initSeed());
        loadFails(d.resolve("model.safetensors"), other, "'model.layers.0.mlp.gate_proj.weight'", "[176, 64]", "[128, 64]");
    }

    @Test
    void tiedLlama() {
        Path d = vectors("llama-tiny");
        ModelConfig untied = ModelConfigs.load(d);
        ModelConfig tied = new ModelConfig(untied.family(), untied.nLayer(), untied.dModel(), untied.nHead(),
                untied.nKvHead(), untied.headDim(), untied.dFf(), untied.vocabSize(), untied.maxSeqLen(), untied.norm(),
                untied.normEps(), untied.activation(), untied.positions(), untied.ropeTheta(), true, untied.residual(),
                untied.initSeed());
        Path f = rewrite(d.resolve("model.safetensors"), t -> t.name().equals("lm_head.weight") ? null : t);
        Params p = HfWeights.load(f, tied);
        assertTrue(!p.has("lm_head"));
        assertTrue(!HfWeights.toHf(p, tied, "").containsKey("lm_head.weight"));
        // untied config on the tied file: the head is missing
        loadFails(f, untied, "missing tensor 'lm_head.weight'");
    }

    @Test
    void otherResidualSchemesHaveNoHfLayout() {
        Path d = vectors("gpt2-tiny");
        ModelConfig c = ModelConfigs.load(d).withResidual(Residual.POST);
        loadFails(d.resolve("model.safetensors"), c, "residual 'post'");
    }

    @Test
    void missingFile() {
        ModelConfig c = ModelConfigs.load(vectors("gpt2-tiny"));
        loadFails(dir.resolve("model.safetensors"), c, "file not found");
    }

    @Test
    void internalFormatRoundTripsEveryScheme() {
        ModelConfig base = ModelConfigs.load(vectors("llama-tiny"));
        for (Residual r : Residual.values()) {
            ModelConfig c = base.withResidual(r);
            Params p = Params.zeros(ParamLayout.of(c));
            int k = 0;
            for (Tensor t : p.tensors()) {
                t.data()[0] = ++k;
            }
            Path f = dir.resolve("ckpt-" + r.id() + ".safetensors");
            HfWeights.saveInternal(f, p, Map.of("config", ModelConfigs.toJson(c).toString()));
            Params back = HfWeights.loadInternal(f, c);
            assertEquals(List.copyOf(p.names()), List.copyOf(back.names()));
            for (String n : p.names()) {
                assertArrayEquals(p.data(n), back.data(n), n);
            }
            try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
                assertEquals(c, ModelConfigs.fromJson(ModelConfigs.parseJson(st.metadata().get("config"), "meta"), "meta"));
            }
        }
        // checked against a config it does not match
        Path f = dir.resolve("ckpt-pre.safetensors");
        BadInputException e = assertThrows(BadInputException.class,
                () -> HfWeights.loadInternal(f, base.withResidual(Residual.REZERO)));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
    }

    @Test
    void saveHfWritesALoadableCheckpoint() {
        for (String name : new String[] {"gpt2-tiny", "llama-tiny"}) {
            Path d = vectors(name);
            ModelConfig c = ModelConfigs.load(d);
            Params p = HfWeights.load(d, c);
            Path out = dir.resolve(name);
            HfWeights.saveHf(out, p, c);
            assertEquals(c, ModelConfigs.load(out));
            Params back = HfWeights.load(out, c);
            for (String n : p.names()) {
                assertArrayEquals(p.data(n), back.data(n), n);
            }
            try (SafeTensorsFile st = SafeTensorsFile.open(out.resolve("model.safetensors"))) {
                assertEquals("pt", st.metadata().get("format"));
            }
        }
    }
}
