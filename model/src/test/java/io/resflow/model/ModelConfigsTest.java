package io.resflow.model;

import io.resflow.engine.TestInputs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ModelConfigsTest {

    private static final String GPT2_MIN = """
            {"family": "gpt2", "n_layer": 2, "d_model": 64, "n_head": 4, "vocab_size": 256, "max_seq_len": 32}""";
    private static final String LLAMA_MIN = """
            {"family": "llama", "n_layer": 2, "d_model": 64, "n_head": 4, "vocab_size": 256, "max_seq_len": 32,
             "d_ff": 176}""";

    @TempDir
    Path dir;

    static Path testVectors(String name) {
        return TestInputs.testVectorFolder(name);
    }

    private Path write(String name, String json) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(f, json);
        return f;
    }

    /** Loads a config that must fail; checks that the message names the file and every given fragment. */
    private BadInputException fails(String json, String... fragments) throws IOException {
        Path f = write("bad.json", json);
        BadInputException e = assertThrows(BadInputException.class, () -> ModelConfigs.load(f));
        assertTrue(e.getMessage().startsWith(f.toString() + ": "), e.getMessage());
        for (String frag : fragments) {
            assertTrue(e.getMessage().contains(frag), "'" + frag + "' not in: " + e.getMessage());
        }
        return e;
    }

    private static String with(String base, String extra) {
        return base.substring(0, base.lastIndexOf('}')) + ", " + extra + "}";
    }

    private static String without(String base, String field) {
        return base.replaceAll("\"" + field + "\": [^,}]+,?", "").replace(", }", "}").replace(",\n }", "}");
    }

    @Test
    void gpt2Defaults() throws IOException {
        ModelConfig c = ModelConfigs.load(write("g.json", GPT2_MIN));
        assertEquals(new ModelConfig(Family.GPT2, 2, 64, 4, 4, 16, 256, 256, 32, Norm.LAYERNORM, 1e-5, Activation.GELU_TANH,
                Positions.LEARNED, 10000.0, true, Residual.PRE, 1234), c);
    }

    @Test
    void llamaDefaults() throws IOException {
        ModelConfig c = ModelConfigs.load(write("l.json", LLAMA_MIN));
        assertEquals(new ModelConfig(Family.LLAMA, 2, 64, 4, 4, 16, 176, 256, 32, Norm.RMSNORM, 1e-5, Activation.SWIGLU,
                Positions.ROPE, 10000.0, false, Residual.PRE, 1234), c);
    }

    @Test
    void everyFieldExplicitAndRoundTrip() throws IOException {
        String json = """
                {"family": "llama", "n_layer": 3, "d_model": 48, "n_head": 3, "n_kv_head": 1, "head_dim": 20,
                 "d_ff": 100, "vocab_size": 77, "max_seq_len": 19, "norm": "layernorm", "norm_eps": 1e-6,
                 "activation": "gelu_tanh", "positions": "learned", "rope_theta": 500000.0, "tie_embeddings": true,
                 "residual": "deepnorm", "init_seed": 99}""";
        ModelConfig c = ModelConfigs.load(write("all.json", json));
        assertEquals(new ModelConfig(Family.LLAMA, 3, 48, 3, 1, 20, 100, 77, 19, Norm.LAYERNORM, 1e-6, Activation.GELU_TANH,
                Positions.LEARNED, 500000.0, true, Residual.DEEPNORM, 99), c);
        ObjectNode out = ModelConfigs.toJson(c);
        assertEquals(ModelConfigs.FIELDS, out.properties().stream().map(java.util.Map.Entry::getKey).toList());
        assertEquals("deepnorm", out.get("residual").textValue());
        assertEquals("gelu_tanh", out.get("activation").textValue());
        assertEquals(c, ModelConfigs.fromJson(out, "roundtrip"));
    }

    @Test
    void allResidualSchemes() throws IOException {
        for (Residual r : Residual.values()) {
            ModelConfig c = ModelConfigs.load(write("r.json", with(GPT2_MIN, "\"residual\": \"" + r.id() + "\"")));
            assertEquals(r, c.residual());
            assertEquals(c, ModelConfigs.fromJson(ModelConfigs.toJson(c), "x"));
        }
    }

    @Test
    void directoryMeansConfigJson() throws IOException {
        write("config.json", GPT2_MIN);
        assertEquals(64, ModelConfigs.load(dir).dModel());
    }

    @Test
    void missingFile() {
        Path f = dir.resolve("nope.json");
        BadInputException e = assertThrows(BadInputException.class, () -> ModelConfigs.load(f));
        assertEquals(f + ": file not found", e.getMessage());
    }

    @Test
    void malformedJson() throws IOException {
        BadInputException e = fails("{\"family\": \"gpt2\",\n \"n_layer\": 2,,\n}", "malformed JSON", "line 2");
        assertTrue(e.getMessage().contains("column"), e.getMessage());
        fails("", "empty");
        fails("[1, 2]", "JSON object");
        fails(GPT2_MIN + " {}", "malformed JSON");
        fails(with(GPT2_MIN, "\"n_layer\": 3"), "malformed JSON", "n_layer"); // duplicate key
    }

    @Test
    void unknownField() throws IOException {
        Path f = write("x.json", with(GPT2_MIN, "\"n_layers\": 2"));
        BadInputException e = assertThrows(BadInputException.class, () -> ModelConfigs.load(f));
        assertTrue(e.getMessage().startsWith(f + ": unknown field 'n_layers'"), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"family", "n_layer", "d_model", "n_head", "vocab_size", "max_seq_len"})
    void missingRequiredField(String field) throws IOException {
        fails(without(GPT2_MIN, field), "missing required field '" + field + "'");
    }

    @Test
    void llamaNeedsDff() throws IOException {
        fails(without(LLAMA_MIN, "d_ff"), "'d_ff'", "llama");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "n_layer|\"2\"", "n_layer|2.5", "n_layer|-1", "n_layer|0", "d_model|true",
        "n_kv_head|1.5", "d_ff|-4", "vocab_size|[256]", "max_seq_len|{}", "norm_eps|\"1e-5\"", "norm_eps|-1",
        "rope_theta|0", "tie_embeddings|1", "init_seed|1.5", "init_seed|\"7\"", "head_dim|-16", "n_layer|3000000000"})
    void wrongType(String field, String value) throws IOException {
        String json = GPT2_MIN.contains("\"" + field + "\"")
                ? GPT2_MIN.replaceFirst("\"" + field + "\": [^,}]+", "\"" + field + "\": " + value.replace("$", "\\$"))
                : with(GPT2_MIN, "\"" + field + "\": " + value);
        fails(json, "'" + field + "'");
    }

    @Test
    void integralFloatIsAnInteger() throws IOException {
        assertEquals(2, ModelConfigs.load(write("f.json", GPT2_MIN.replace("\"n_layer\": 2", "\"n_layer\": 2.0"))).nLayer());
    }

    @ParameterizedTest
    @CsvSource({"family,gpt3", "norm,batchnorm", "activation,relu", "positions,alibi", "residual,sandwich"})
    void badEnumListsAllowedValues(String field, String value) throws IOException {
        String json = field.equals("family") ? GPT2_MIN.replace("\"gpt2\"", "\"" + value + "\"")
                : with(GPT2_MIN, "\"" + field + "\": \"" + value + "\"");
        BadInputException e = fails(json, "'" + field + "'", value);
        String allowed = switch (field) {
            case "family" -> "gpt2, llama";
            case "norm" -> "layernorm, rmsnorm";
            case "activation" -> "gelu_tanh, swiglu";
            case "positions" -> "learned, rope";
            default -> "pre, post, deepnorm, rezero, none";
        };
        assertTrue(e.getMessage().contains(allowed), e.getMessage());
    }

    @Test
    void headDimMustDivide() throws IOException {
        fails(GPT2_MIN.replace("\"d_model\": 64", "\"d_model\": 66"), "head_dim", "n_head");
        // explicit head_dim makes it fine
        ModelConfig c = ModelConfigs.load(write("ok.json", with(GPT2_MIN.replace("\"d_model\": 64", "\"d_model\": 66"),
                "\"head_dim\": 16")));
        assertEquals(16, c.headDim());
        assertEquals(66, c.dModel());
    }

    @Test
    void kvHeadsMustDivideHeads() throws IOException {
        fails(with(LLAMA_MIN, "\"n_kv_head\": 3"), "n_kv_head", "not divisible");
    }

    @Test
    void recordChecksArePrefixedWithTheFile() throws IOException {
        fails(with(LLAMA_MIN, "\"head_dim\": 15"), "head_dim", "even");
    }

    // ---- Hugging Face configs ----

    @Test
    void hfGpt2TestVectors() {
        ModelConfig c = ModelConfigs.load(testVectors("gpt2-tiny"));
        assertEquals(new ModelConfig(Family.GPT2, 2, 64, 4, 4, 16, 256, 256, 32, Norm.LAYERNORM, 1e-5, Activation.GELU_TANH,
                Positions.LEARNED, 10000.0, true, Residual.PRE, 1234), c);
    }

    @Test
    void hfLlamaTestVectors() {
        ModelConfig c = ModelConfigs.load(testVectors("llama-tiny").resolve("config.json"));
        assertEquals(new ModelConfig(Family.LLAMA, 2, 64, 4, 2, 16, 176, 256, 64, Norm.RMSNORM, 1e-5, Activation.SWIGLU,
                Positions.ROPE, 10000.0, false, Residual.PRE, 1234), c);
        assertEquals(32, c.kvDim());
    }

    @Test
    void hfJsonRoundTrip() {
        for (String name : new String[] {"gpt2-tiny", "llama-tiny"}) {
            ModelConfig c = ModelConfigs.load(testVectors(name));
            assertEquals(c, ModelConfigs.fromHf(ModelConfigs.toHfJson(c), name));
        }
    }

    @Test
    void hfToJsonRejectsOtherSchemes() {
        ModelConfig c = ModelConfigs.load(testVectors("gpt2-tiny")).withResidual(Residual.REZERO);
        BadInputException e = assertThrows(BadInputException.class, () -> ModelConfigs.toHfJson(c));
        assertTrue(e.getMessage().contains("rezero"), e.getMessage());
    }

    private static final String HF_LLAMA = """
            {"model_type": "llama", "hidden_size": 64, "intermediate_size": 176, "num_attention_heads": 4,
             "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 256, "max_position_embeddings": 64,
             "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu"}""";
    private static final String HF_GPT2 = """
            {"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 256, "n_positions": 32,
             "n_inner": null, "layer_norm_epsilon": 1e-05, "activation_function": "gelu_new", "unknown_stuff": 1}""";

    @Test
    void hfLlamaDetails() throws IOException {
        ModelConfig c = ModelConfigs.load(write("hf.json", with(HF_LLAMA,
                "\"head_dim\": 24, \"tie_word_embeddings\": true, \"rope_scaling\": null, \"attention_bias\": false")));
        assertEquals(24, c.headDim());
        assertEquals(96, c.qDim()); // n_head * head_dim may differ from hidden_size
        assertTrue(c.tieEmbeddings());
        assertEquals(4, ModelConfigs.load(write("hf2.json", without(HF_LLAMA, "num_key_value_heads"))).nKvHead());
        ModelConfig rp = ModelConfigs.load(write("hf3.json", with(without(HF_LLAMA, "rope_theta"),
                "\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 500000.0}")));
        assertEquals(500000.0, rp.ropeTheta());
    }

    @Test
    void hfGpt2Details() throws IOException {
        ModelConfig c = ModelConfigs.load(write("g.json", HF_GPT2.replace("\"n_inner\": null", "\"n_inner\": 100")
                .replace("gelu_new", "gelu_pytorch_tanh")));
        assertEquals(100, c.dFf());
        assertEquals(Activation.GELU_TANH, c.activation());
        assertTrue(c.tieEmbeddings());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "rope_scaling|{\"type\": \"linear\", \"factor\": 2.0}",
        "attention_bias|true",
        "mlp_bias|true",
        "hidden_act|\"gelu\"",
        "rope_parameters|{\"rope_type\": \"yarn\", \"factor\": 4.0}",
        "hidden_size|\"64\""})
    void hfLlamaUnsupported(String field, String value) throws IOException {
        failsWithField(HF_LLAMA, field, value);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "scale_attn_weights|false", "scale_attn_by_inverse_layer_idx|true", "reorder_and_upcast_attn|true",
        "add_cross_attention|true", "activation_function|\"relu\"", "n_embd|\"64\""})
    void hfGpt2Unsupported(String field, String value) throws IOException {
        failsWithField(HF_GPT2, field, value);
    }

    /** {@code config} with {@code field} set to {@code value} (replaced or added) must fail naming the field. */
    private void failsWithField(String config, String field, String value) throws IOException {
        String json = config.contains("\"" + field + "\"")
                ? config.replaceFirst("\"" + field + "\": [^,}]+", "\"" + field + "\": " + value)
                : with(config, "\"" + field + "\": " + value);
        fails(json, "'" + field + "'");
    }

    @Test
    void hfGpt2HeadsMustDivide() throws IOException {
        fails(HF_GPT2.replace("\"n_embd\": 64", "\"n_embd\": 65"), "n_embd (65)", "n_head (4)");
    }

    @Test
    void hfOtherModelType() throws IOException {
        fails(HF_GPT2.replace("\"gpt2\"", "\"mistral\""), "'model_type'", "mistral");
    }

    @Test
    void hfKvHeadsNamedByHfField() throws IOException {
        BadInputException e = fails(HF_LLAMA.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"));
        assertTrue(e.getMessage().contains("num_key_value_heads"), e.getMessage());
    }

    @Test
    void ownSchemaIsNotMistakenForHf() throws IOException {
        assertFalse(ModelConfigs.isHf(ModelConfigs.readJson(write("o.json", GPT2_MIN))));
    }

    // ---- sizes: checked in long, before anything is allocated, naming the file's own field ----

    @Test
    void sizesThatOverflowNameTheFieldAndTheLimit() throws IOException {
        String base = "{\"family\": \"gpt2\", \"n_layer\": 2, \"d_model\": 64, \"n_head\": 4, \"vocab_size\": 256, \"max_seq_len\": 64";
        fails(base.replace("\"d_model\": 64", "\"d_model\": 65536") + "}", "field 'd_model' (65536) is too large",
                "h.0.qkv.w", "[196608, 65536]", "12,884,901,888 values", "2,147,483,639");
        fails(base + ", \"d_ff\": 2000000000}", "field 'd_ff' (2000000000)", "h.0.fc.w");
        fails(base.replace("\"n_layer\": 2", "\"n_layer\": 100000") + "}", "field 'n_layer'", "at most 65536");
        // a Hugging Face config is answered in its own field names
        fails("""
                {"model_type": "llama", "hidden_size": 64, "intermediate_size": 3000000000, "num_attention_heads": 4,
                 "num_hidden_layers": 1, "vocab_size": 32}""", "'intermediate_size'");
        fails("""
                {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
                 "num_hidden_layers": 1, "vocab_size": 2000000000}""", "field 'vocab_size' (2000000000) is too large",
                "['vocab_size', 'hidden_size']");
        ModelConfig ok = ModelConfigs.load(write("ok.json", base + "}"));
        assertTrue(ok.parameterCount() > 0);
    }

    @Test
    void ioErrorsInPlainWords() {
        assertEquals("permission denied", IoErrors.describe(new java.nio.file.AccessDeniedException("/x")));
        assertEquals("no such file or folder", IoErrors.describe(new java.nio.file.NoSuchFileException("/x")));
        assertEquals("no space left on device", IoErrors.describe(new IOException("No space left on device")));
        assertEquals("read-only file system",
                IoErrors.describe(new java.nio.file.FileSystemException("/x", null, "Read-only file system")));
        assertEquals("input/output error", IoErrors.describe(new IOException()));
    }
}
