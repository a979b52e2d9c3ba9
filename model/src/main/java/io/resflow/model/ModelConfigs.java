package io.resflow.model;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Reads and writes {@link ModelConfig}s: the project's own JSON schema and Hugging Face {@code config.json} files
 * (model types {@code gpt2} and {@code llama}).
 *
 * <p>The project's schema has exactly these fields (enum values are the lowercase ids shown):
 * <pre>
 * family        gpt2 | llama                          required
 * n_layer, d_model, n_head, vocab_size, max_seq_len   required positive integers
 * n_kv_head     default n_head
 * head_dim      default d_model / n_head (must divide evenly)
 * d_ff          required for llama; default 4 d_model for gpt2
 * norm          layernorm | rmsnorm                   family default
 * norm_eps      default 1e-5
 * activation    gelu_tanh | swiglu                    family default
 * positions     learned | rope                        family default
 * rope_theta    default 10000
 * tie_embeddings                                      default true for gpt2, false for llama
 * residual      pre | post | deepnorm | rezero | none default pre
 * init_seed     default 1234
 * </pre>
 * Family defaults: gpt2 is layernorm, gelu_tanh, learned positions, tied; llama is rmsnorm, swiglu, rope, untied.
 *
 * <p>Every problem is reported as a {@link BadInputException} whose message starts with the file it came from and
 * names the field.
 */
public final class ModelConfigs {

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    /** The project's schema, in the order {@link #toJson} writes it. */
    public static final List<String> FIELDS = List.of("family", "n_layer", "d_model", "n_head", "n_kv_head", "head_dim",
            "d_ff", "vocab_size", "max_seq_len", "norm", "norm_eps", "activation", "positions", "rope_theta",
            "tie_embeddings", "residual", "init_seed");

    public static final int DEFAULT_INIT_SEED = 1234;
    public static final double DEFAULT_NORM_EPS = 1e-5;
    public static final double DEFAULT_ROPE_THETA = 10000.0;

    /** Internal field name to the Hugging Face field it comes from, to name the right field in messages. */
    private static final Map<String, String> HF_GPT2_NAMES = Map.of("n_layer", "n_layer", "d_model", "n_embd",
            "n_head", "n_head", "d_ff", "n_inner", "vocab_size", "vocab_size", "max_seq_len", "n_positions",
            "norm_eps", "layer_norm_epsilon");
    private static final Map<String, String> HF_LLAMA_NAMES = Map.of("n_layer", "num_hidden_layers", "d_model",
            "hidden_size", "n_head", "num_attention_heads", "n_kv_head", "num_key_value_heads", "head_dim", "head_dim",
            "d_ff", "intermediate_size", "vocab_size", "vocab_size", "max_seq_len", "max_position_embeddings",
            "norm_eps", "rms_norm_eps", "rope_theta", "rope_theta");

    private ModelConfigs() {
    }

    /**
     * Loads a config file: a Hugging Face {@code config.json} when it has {@code model_type} (or
     * {@code architectures}), the project's schema otherwise. A directory means {@code <dir>/config.json}.
     */
    public static ModelConfig load(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("config.json") : path;
        JsonNode root = readJson(file);
        String source = file.toString();
        return isHf(root) ? fromHf(root, source) : fromJson(root, source);
    }

    /** Whether a parsed config is in Hugging Face form. */
    public static boolean isHf(JsonNode root) {
        return root.has("model_type") || (root.has("architectures") && !root.has("family"));
    }

    /**
     * Reads a JSON file into a tree, with duplicate keys and trailing content rejected.
     *
     * @throws BadInputException naming the file: not found, unreadable, empty, or malformed (with line and column)
     */
    public static JsonNode readJson(Path file) {
        IoErrors.requireRegularFile(file, "a JSON file", MAX_JSON_BYTES);
        try (InputStream in = Files.newInputStream(file)) {
            JsonNode root = JSON.readTree(in);
            if (root == null || root.isMissingNode()) {
                throw new BadInputException(file + ": file is empty, expected a JSON object");
            }
            return root;
        } catch (JacksonException e) {
            throw malformed(file, e);
        } catch (NoSuchFileException e) {
            throw new BadInputException(file + ": file not found", e);
        } catch (AccessDeniedException e) {
            throw new BadInputException(file + ": permission denied", e);
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read: " + IoErrors.describe(e), e);
        }
    }

    /** The largest JSON file read (configs, reports): 100 MiB. */
    public static final long MAX_JSON_BYTES = 100L << 20;

    /**
     * Parses JSON text (for example a config stored in checkpoint metadata); {@code source} names where it came
     * from in messages.
     *
     * @throws BadInputException naming the source when the text is empty or malformed (with line and column)
     */
    public static JsonNode parseJson(String text, String source) {
        try {
            JsonNode root = JSON.readTree(text);
            if (root == null || root.isMissingNode()) {
                throw new BadInputException(source + ": empty, expected a JSON object");
            }
            return root;
        } catch (JacksonException e) {
            throw malformed(source, e);
        }
    }

    private static BadInputException malformed(Object source, JacksonException e) {
        return new BadInputException(source + ": " + JsonErrors.describe(e), e);
    }

    /** Builds a config from the project's schema; {@code source} names the file in messages. */
    public static ModelConfig fromJson(JsonNode node, String source) {
        Fields f = new Fields(node, source);
        for (String name : f.names()) {
            if (!FIELDS.contains(name)) {
                throw new BadInputException(source + ": unknown field '" + name + "' (known fields: "
                        + String.join(", ", FIELDS) + hfHint(node) + ")");
            }
        }
        Family family = f.enumValue("family", Family.values(), null);
        boolean gpt2 = family == Family.GPT2;
        int nLayer = f.requiredDim("n_layer");
        int dModel = f.requiredDim("d_model");
        int nHead = f.requiredDim("n_head");
        int vocab = f.requiredDim("vocab_size");
        int maxSeq = f.requiredDim("max_seq_len");
        int nKvHead = f.dim("n_kv_head", nHead);
        int headDim = f.present("head_dim") ? f.requiredDim("head_dim")
                : derivedHeadDim(source, dModel, nHead, "head_dim", "d_model", "n_head");
        int dFf = gpt2 ? f.dim("d_ff", f.times("d_ff", 4, dModel)) : f.requiredDim("d_ff", "required for family llama");
        Norm norm = f.enumValue("norm", Norm.values(), gpt2 ? Norm.LAYERNORM : Norm.RMSNORM);
        double normEps = f.positiveNumber("norm_eps", DEFAULT_NORM_EPS);
        Activation activation = f.enumValue("activation", Activation.values(), gpt2 ? Activation.GELU_TANH : Activation.SWIGLU);
        Positions positions = f.enumValue("positions", Positions.values(), gpt2 ? Positions.LEARNED : Positions.ROPE);
        double ropeTheta = f.positiveNumber("rope_theta", DEFAULT_ROPE_THETA);
        boolean tied = f.bool("tie_embeddings", gpt2);
        Residual residual = f.enumValue("residual", Residual.values(), Residual.PRE);
        long seed = f.integer("init_seed", DEFAULT_INIT_SEED);
        return build(source, Map.of(), () -> new ModelConfig(family, nLayer, dModel, nHead, nKvHead, headDim, dFf, vocab,
                maxSeq, norm, normEps, activation, positions, ropeTheta, tied, residual, seed));
    }

    /**
     * Builds a config from a Hugging Face {@code config.json} ({@code model_type} gpt2 or llama), read as
     * Hugging Face does: absent fields take the library's defaults. Settings that change the architecture beyond
     * what the project implements are errors naming the field; other fields are ignored. The residual scheme is
     * pre and the init seed {@value #DEFAULT_INIT_SEED}.
     */
    public static ModelConfig fromHf(JsonNode node, String source) {
        Fields f = new Fields(node, source);
        String type = f.string("model_type", null);
        return switch (type) {
            case "gpt2" -> hfGpt2(f);
            case "llama" -> hfLlama(f);
            default -> throw f.error("model_type", "unsupported model type '" + type + "' (supported: gpt2, llama)");
        };
    }

    private static ModelConfig hfGpt2(Fields f) {
        int nLayer = f.dim("n_layer", 12);
        int dModel = f.dim("n_embd", 768);
        int nHead = f.dim("n_head", 12);
        int dFf = f.dim("n_inner", f.times("n_inner", 4, dModel));
        int vocab = f.dim("vocab_size", 50257);
        int nPositions = f.dim("n_positions", 1024);
        double eps = f.positiveNumber("layer_norm_epsilon", DEFAULT_NORM_EPS);
        String act = f.string("activation_function", "gelu_new");
        if (!act.equals("gelu_new") && !act.equals("gelu_pytorch_tanh")) {
            throw f.error("activation_function", "'" + act + "' is not supported (supported: gelu_new, gelu_pytorch_tanh)");
        }
        if (!f.bool("scale_attn_weights", true)) {
            throw f.error("scale_attn_weights", "false (unscaled attention) is not supported");
        }
        if (f.bool("scale_attn_by_inverse_layer_idx", false)) {
            throw f.error("scale_attn_by_inverse_layer_idx", "true is not supported");
        }
        if (f.bool("reorder_and_upcast_attn", false)) {
            throw f.error("reorder_and_upcast_attn", "true is not supported");
        }
        if (f.bool("add_cross_attention", false)) {
            throw f.error("add_cross_attention", "true (cross-attention) is not supported");
        }
        boolean tied = f.bool("tie_word_embeddings", true);
        int headDim = derivedHeadDim(f.source, dModel, nHead, "n_head", "n_embd", "n_head");
        return build(f.source, HF_GPT2_NAMES, () -> new ModelConfig(Family.GPT2, nLayer, dModel, nHead, nHead, headDim,
                dFf, vocab, nPositions, Norm.LAYERNORM, eps, Activation.GELU_TANH, Positions.LEARNED, DEFAULT_ROPE_THETA,
                tied, Residual.PRE, DEFAULT_INIT_SEED));
    }

    private static ModelConfig hfLlama(Fields f) {
        int dModel = f.dim("hidden_size", 4096);
        int dFf = f.dim("intermediate_size", 11008);
        int nLayer = f.dim("num_hidden_layers", 32);
        int nHead = f.dim("num_attention_heads", 32);
        int nKvHead = f.dim("num_key_value_heads", nHead);
        int headDim = f.present("head_dim") ? f.requiredDim("head_dim")
                : derivedHeadDim(f.source, dModel, nHead, "head_dim", "hidden_size", "num_attention_heads");
        int vocab = f.dim("vocab_size", 32000);
        int maxPos = f.dim("max_position_embeddings", 2048);
        double eps = f.positiveNumber("rms_norm_eps", 1e-6);
        double theta = f.positiveNumber("rope_theta", DEFAULT_ROPE_THETA);
        if (f.present("rope_parameters")) { // newer transformers versions keep rope_theta here
            Fields rp = f.child("rope_parameters");
            String ropeType = rp.string("rope_type", "default");
            if (!ropeType.equals("default")) {
                throw f.error("rope_parameters", "rope_type '" + ropeType + "' is not supported (only default RoPE)");
            }
            theta = rp.positiveNumber("rope_theta", theta);
        }
        if (f.present("rope_scaling")) {
            throw f.error("rope_scaling", "RoPE scaling is not supported (must be null), got " + f.node.get("rope_scaling"));
        }
        if (f.bool("attention_bias", false)) {
            throw f.error("attention_bias", "true (biases in attention) is not supported");
        }
        if (f.bool("mlp_bias", false)) {
            throw f.error("mlp_bias", "true (biases in the MLP) is not supported");
        }
        String act = f.string("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw f.error("hidden_act", "'" + act + "' is not supported (supported: silu)");
        }
        boolean tied = f.bool("tie_word_embeddings", false);
        double ropeTheta = theta;
        return build(f.source, HF_LLAMA_NAMES, () -> new ModelConfig(Family.LLAMA, nLayer, dModel, nHead, nKvHead, headDim,
                dFf, vocab, maxPos, Norm.RMSNORM, eps, Activation.SWIGLU, Positions.ROPE, ropeTheta, tied, Residual.PRE,
                DEFAULT_INIT_SEED));
    }

    /** The project's schema for a config, every field written, enums as lowercase ids. */
    public static ObjectNode toJson(ModelConfig c) {
        ObjectNode o = JSON.createObjectNode();
        o.put("family", id(c.family()));
        o.put("n_layer", c.nLayer());
        o.put("d_model", c.dModel());
        o.put("n_head", c.nHead());
        o.put("n_kv_head", c.nKvHead());
        o.put("head_dim", c.headDim());
        o.put("d_ff", c.dFf());
        o.put("vocab_size", c.vocabSize());
        o.put("max_seq_len", c.maxSeqLen());
        o.put("norm", id(c.norm()));
        o.put("norm_eps", c.normEps());
        o.put("activation", id(c.activation()));
        o.put("positions", id(c.positions()));
        o.put("rope_theta", c.ropeTheta());
        o.put("tie_embeddings", c.tieEmbeddings());
        o.put("residual", id(c.residual()));
        o.put("init_seed", c.initSeed());
        return o;
    }

    /**
     * A Hugging Face {@code config.json} for a config (GPT2LMHeadModel or LlamaForCausalLM), used to save
     * checkpoints in Hugging Face layout.
     *
     * @throws BadInputException if the config has no Hugging Face equivalent (a residual scheme other than pre, or
     *     a norm, activation, positions or head layout the model type does not have)
     */
    public static ObjectNode toHfJson(ModelConfig c) {
        List<String> problems = hfProblems(c);
        if (!problems.isEmpty()) {
            throw new BadInputException("model config has no Hugging Face " + id(c.family()) + " equivalent: "
                    + String.join("; ", problems));
        }
        ObjectNode o = JSON.createObjectNode();
        if (c.family() == Family.GPT2) {
            o.putArray("architectures").add("GPT2LMHeadModel");
            o.put("model_type", "gpt2");
            o.put("n_layer", c.nLayer());
            o.put("n_embd", c.dModel());
            o.put("n_head", c.nHead());
            o.put("n_inner", c.dFf());
            o.put("vocab_size", c.vocabSize());
            o.put("n_positions", c.maxSeqLen());
            o.put("n_ctx", c.maxSeqLen());
            o.put("layer_norm_epsilon", c.normEps());
            o.put("activation_function", "gelu_new");
            o.put("resid_pdrop", 0.0);
            o.put("embd_pdrop", 0.0);
            o.put("attn_pdrop", 0.0);
            o.put("tie_word_embeddings", c.tieEmbeddings());
        } else {
            o.putArray("architectures").add("LlamaForCausalLM");
            o.put("model_type", "llama");
            o.put("hidden_size", c.dModel());
            o.put("intermediate_size", c.dFf());
            o.put("num_attention_heads", c.nHead());
            o.put("num_key_value_heads", c.nKvHead());
            o.put("head_dim", c.headDim());
            o.put("num_hidden_layers", c.nLayer());
            o.put("vocab_size", c.vocabSize());
            o.put("max_position_embeddings", c.maxSeqLen());
            o.put("rms_norm_eps", c.normEps());
            o.put("rope_theta", c.ropeTheta());
            o.putNull("rope_scaling");
            o.put("tie_word_embeddings", c.tieEmbeddings());
            o.put("hidden_act", "silu");
            o.put("attention_bias", false);
            o.put("attention_dropout", 0.0);
            o.put("mlp_bias", false);
        }
        o.put("torch_dtype", "float32");
        return o;
    }

    /** Why a config cannot be written as a Hugging Face config (empty when it can). */
    static List<String> hfProblems(ModelConfig c) {
        List<String> p = new java.util.ArrayList<>();
        if (c.residual() != Residual.PRE) {
            p.add("residual '" + c.residual().id() + "' (only 'pre' exists in Hugging Face models)");
        }
        boolean gpt2 = c.family() == Family.GPT2;
        Norm norm = gpt2 ? Norm.LAYERNORM : Norm.RMSNORM;
        Activation act = gpt2 ? Activation.GELU_TANH : Activation.SWIGLU;
        Positions pos = gpt2 ? Positions.LEARNED : Positions.ROPE;
        if (c.norm() != norm) {
            p.add("norm '" + id(c.norm()) + "' (" + id(c.family()) + " uses " + id(norm) + ")");
        }
        if (c.activation() != act) {
            p.add("activation '" + id(c.activation()) + "' (" + id(c.family()) + " uses " + id(act) + ")");
        }
        if (c.positions() != pos) {
            p.add("positions '" + id(c.positions()) + "' (" + id(c.family()) + " uses " + id(pos) + ")");
        }
        if (gpt2 && c.nKvHead() != c.nHead()) {
            p.add("n_kv_head " + c.nKvHead() + " != n_head " + c.nHead() + " (gpt2 has no grouped-query attention)");
        }
        if (gpt2 && (long) c.nHead() * c.headDim() != c.dModel()) {
            p.add("n_head * head_dim = " + (long) c.nHead() * c.headDim() + " != d_model " + c.dModel()
                    + " (gpt2 has no head_dim setting)");
        }
        return p;
    }

    /** Serialises JSON as indented UTF-8 text with a trailing newline (for config files written next to weights). */
    static byte[] prettyBytes(JsonNode node) {
        try {
            return (JSON.writeValueAsString(node) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        } catch (JacksonException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The lowercase id of an enum value, as the schema writes it. */
    public static String id(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    private static String hfHint(JsonNode node) {
        return node.has("family") ? "" : "; a Hugging Face config.json needs 'model_type'";
    }

    private static int derivedHeadDim(String source, int dModel, int nHead, String field, String dModelName,
            String nHeadName) {
        if (dModel % nHead != 0) {
            throw new BadInputException(source + ": field '" + field + "': " + dModelName + " (" + dModel
                    + ") is not divisible by " + nHeadName + " (" + nHead + ")"
                    + (field.equals("head_dim") ? "; set head_dim explicitly" : ""));
        }
        return dModel / nHead;
    }

    /** Runs the record's constructor, prefixing its messages with the file (and the Hugging Face field name). */
    private static ModelConfig build(String source, Map<String, String> hfNames, java.util.function.Supplier<ModelConfig> ctor) {
        try {
            return ctor.get();
        } catch (BadInputException e) {
            throw new BadInputException(source + ": " + hfNames(e.getMessage(), hfNames), e);
        }
    }

    /**
     * A message about the project's fields in the Hugging Face file's words: every quoted internal field name
     * ({@code 'd_model'}) becomes the field the file has ({@code 'n_embd'}).
     */
    static String hfNames(String msg, Map<String, String> hfNames) {
        if (hfNames.isEmpty()) {
            return msg;
        }
        StringBuilder sb = new StringBuilder();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("'([a-z_]+)'").matcher(msg);
        while (m.find()) {
            String hf = hfNames.get(m.group(1));
            m.appendReplacement(sb, java.util.regex.Matcher.quoteReplacement(hf != null ? "'" + hf + "'" : m.group()));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    /** Typed, checked access to the fields of one JSON object; every error names the file and the field. */
    private static final class Fields {
        final JsonNode node;
        final String source;
        private final String prefix; // for nested objects: "parent."

        Fields(JsonNode node, String source) {
            this(node, source, "");
        }

        private Fields(JsonNode node, String source, String prefix) {
            if (node == null || !node.isObject()) {
                throw new BadInputException(source + ": " + (prefix.isEmpty() ? "config" : "field '" + prefix
                        .substring(0, prefix.length() - 1) + "'") + " must be a JSON object, got "
                        + (node == null ? "nothing" : describe(node)));
            }
            this.node = node;
            this.source = source;
            this.prefix = prefix;
        }

        List<String> names() {
            return node.properties().stream().map(Map.Entry::getKey).toList();
        }

        /** Present and not null. */
        boolean present(String name) {
            JsonNode v = node.get(name);
            return v != null && !v.isNull();
        }

        Fields child(String name) {
            return new Fields(node.get(name), source, prefix + name + ".");
        }

        BadInputException error(String field, String message) {
            return new BadInputException(source + ": field '" + prefix + field + "': " + message);
        }

        private JsonNode required(String name, String why) {
            if (!present(name)) {
                throw new BadInputException(source + ": missing required field '" + prefix + name + "'"
                        + (why == null ? "" : " (" + why + ")"));
            }
            return node.get(name);
        }

        int requiredDim(String name) {
            return requiredDim(name, null);
        }

        int requiredDim(String name, String why) {
            return toDim(name, required(name, why));
        }

        /** A positive integer, or the default when absent or null. */
        int dim(String name, int dflt) {
            return present(name) ? toDim(name, node.get(name)) : dflt;
        }

        /** {@code factor * value}, checked for overflow (for defaults derived from other fields). */
        int times(String name, int factor, int value) {
            try {
                return Math.multiplyExact(factor, value);
            } catch (ArithmeticException e) {
                throw error(name, "default " + factor + " * " + value + " overflows; set it explicitly");
            }
        }

        private int toDim(String name, JsonNode v) {
            if (!v.isNumber() || !isIntegral(v) || v.doubleValue() < 1 || v.doubleValue() > Integer.MAX_VALUE) {
                throw error(name, "expected a positive integer, got " + describe(v));
            }
            return v.intValue();
        }

        long integer(String name, long dflt) {
            if (!present(name)) {
                return dflt;
            }
            JsonNode v = node.get(name);
            if (!v.isNumber() || !isIntegral(v) || !v.canConvertToLong()) {
                throw error(name, "expected an integer, got " + describe(v));
            }
            return v.longValue();
        }

        double positiveNumber(String name, double dflt) {
            if (!present(name)) {
                return dflt;
            }
            JsonNode v = node.get(name);
            if (!v.isNumber() || !(v.doubleValue() > 0) || !Double.isFinite(v.doubleValue())) {
                throw error(name, "expected a positive number, got " + describe(v));
            }
            return v.doubleValue();
        }

        boolean bool(String name, boolean dflt) {
            if (!present(name)) {
                return dflt;
            }
            JsonNode v = node.get(name);
            if (!v.isBoolean()) {
                throw error(name, "expected true or false, got " + describe(v));
            }
            return v.booleanValue();
        }

        /** A string; a null default makes the field required. */
        String string(String name, String dflt) {
            if (!present(name)) {
                if (dflt == null) {
                    required(name, null);
                }
                return dflt;
            }
            JsonNode v = node.get(name);
            if (!v.isTextual()) {
                throw error(name, "expected a string, got " + describe(v));
            }
            return v.textValue();
        }

        /** An enum given by its lowercase id (case-insensitive); a null default makes the field required. */
        <E extends Enum<E>> E enumValue(String name, E[] values, E dflt) {
            String allowed = Arrays.stream(values).map(ModelConfigs::id).collect(Collectors.joining(", "));
            if (!present(name)) {
                if (dflt == null) {
                    required(name, "one of " + allowed);
                }
                return dflt;
            }
            JsonNode v = node.get(name);
            if (v.isTextual()) {
                for (E e : values) {
                    if (id(e).equalsIgnoreCase(v.textValue())) {
                        return e;
                    }
                }
            }
            throw error(name, "expected one of " + allowed + ", got " + describe(v));
        }

        private static boolean isIntegral(JsonNode v) {
            if (v.isIntegralNumber()) {
                return true;
            }
            double d = v.doubleValue();
            return Double.isFinite(d) && d == Math.rint(d);
        }

        private static String describe(JsonNode v) {
            return v.isTextual() ? "the string \"" + v.textValue() + "\"" : v.toString();
        }
    }
}
