package io.resflow.model;

import io.resflow.safetensors.SafeTensorsFile;
import io.resflow.safetensors.SafeTensorsWriter;
import io.resflow.safetensors.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Moves weights between Hugging Face checkpoints and the internal {@link Params} (names and layouts in
 * {@link ParamLayout}), and reads and writes the project's own checkpoint format.
 *
 * <p>GPT-2 (names with or without the {@code transformer.} prefix) stores Conv1D weights [in, out]; they are
 * transposed to the internal (out, in). {@code h.{i}.attn.c_attn} becomes {@code h.{i}.qkv},
 * {@code attn.c_proj} {@code attn_proj}, {@code mlp.c_fc} {@code fc}, {@code mlp.c_proj} {@code mlp_proj},
 * {@code ln_1/ln_2/ln_f} {@code ln1/ln2/lnf}. The causal-mask buffers {@code h.{i}.attn.bias} and
 * {@code h.{i}.attn.masked_bias} are ignored, and so is {@code lm_head.weight} when the head is tied (as Hugging
 * Face ties it on load).
 *
 * <p>Llama stores nn.Linear weights (out, in) like the internal layout: {@code q_proj|k_proj|v_proj} are stacked
 * by rows into {@code h.{i}.qkv.w}, {@code gate_proj|up_proj} into {@code h.{i}.fc.w}; {@code o_proj},
 * {@code down_proj} become {@code attn_proj.w}, {@code mlp_proj.w}; {@code input_layernorm},
 * {@code post_attention_layernorm}, {@code model.norm} the norms; {@code rotary_emb.inv_freq} buffers are ignored.
 *
 * <p>Only the pre-norm residual scheme has a Hugging Face layout; the project's own format
 * ({@link #saveInternal}, {@link #loadInternal}) holds every scheme.
 */
public final class HfWeights {

    /** Prefix of GPT-2 names as {@code GPT2LMHeadModel} saves them; the hub's original files have none. */
    public static final String GPT2_PREFIX = "transformer.";

    private static final Pattern GPT2_MASK_BUFFER = Pattern.compile("(transformer\\.)?h\\.\\d+\\.attn\\.(masked_)?bias");
    private static final Pattern ROTARY_BUFFER = Pattern.compile(".*rotary_emb\\.inv_freq");

    private HfWeights() {
    }

    /** How an internal tensor is stored in the Hugging Face file. */
    private enum Kind {
        /** Same layout. */
        COPY,
        /** One Conv1D weight [in, out] = the internal (out, in) transposed. */
        TRANSPOSE,
        /** Several (rows_k, in) weights stacked by rows. */
        ROWS
    }

    /** One Hugging Face tensor and the shape the config needs it to have. */
    private record Part(String name, int[] shape) {
    }

    /** Where one internal tensor comes from. */
    private record Mapping(String internal, int[] shape, Kind kind, List<Part> parts) {
    }

    /**
     * Loads a Hugging Face checkpoint ({@code model.safetensors}, or a directory holding one) into internal
     * parameters matching {@code ParamLayout.of(c)}. Float tensors of any width (F32, F16, BF16, F64) are accepted.
     *
     * @throws BadInputException naming the file and the Hugging Face tensor (with both shapes) when a tensor is
     *     missing, unexpected or of the wrong shape, or when the config has no Hugging Face layout
     */
    public static Params load(Path fileOrDir, ModelConfig c) {
        Path file = Files.isDirectory(fileOrDir) ? fileOrDir.resolve("model.safetensors") : fileOrDir;
        String src = file.toString();
        requireHfLayout(c, src);
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            String prefix = c.family() == Family.GPT2 ? detectGpt2Prefix(st) : "";
            Set<String> used = new HashSet<>();
            Params params = new Params();
            for (Mapping m : mappings(c, prefix)) {
                List<float[]> parts = new ArrayList<>();
                for (Part p : m.parts()) {
                    if (!st.has(p.name())) {
                        throw new BadInputException(src + ": missing tensor '" + p.name() + "' (the config needs shape "
                                + Arrays.toString(p.shape()) + ")");
                    }
                    checkShape(src, st.info(p.name()), p.shape());
                    float[] values = st.floats(p.name());
                    requireFinite(src, p.name(), p.shape(), values);
                    parts.add(values);
                    used.add(p.name());
                }
                params.put(new Tensor(m.internal(), m.shape().clone(), toInternal(m, parts)));
            }
            int[] head = {c.vocabSize(), c.dModel()};
            for (String name : st.names()) {
                if (used.contains(name) || isBuffer(name, c)) {
                    continue;
                }
                if (name.equals("lm_head.weight") && c.tieEmbeddings()) {
                    checkShape(src, st.info(name), head); // tied: Hugging Face overwrites it with the embedding
                    continue;
                }
                TensorInfo t = st.info(name);
                throw new BadInputException(src + ": unexpected tensor '" + name + "' with shape " + t.shapeString()
                        + " (not part of a " + ModelConfigs.id(c.family()) + " model with this config)");
            }
            params.checkAgainst(ParamLayout.of(c), src);
            return params;
        }
    }

    /**
     * Weights must be finite: a NaN or infinity in the file is named by the file's own tensor name and index (the
     * position in the file's layout, e.g. {@code [0, 640]} of a Conv1D weight), before any training step.
     */
    static void requireFinite(String src, String name, int[] shape, float[] values) {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                int[] at = new int[shape.length];
                long rest = i;
                for (int d = shape.length - 1; d >= 0; d--) {
                    at[d] = shape[d] == 0 ? 0 : (int) (rest % shape[d]);
                    rest = shape[d] == 0 ? 0 : rest / shape[d];
                }
                throw new BadInputException(src + ": tensor '" + name + "' holds " + values[i] + " at "
                        + Arrays.toString(at) + " (flat index " + i + "); weights must be finite");
            }
        }
    }

    /**
     * Internal parameters (or gradients) in Hugging Face names and layouts, in layout order. For GPT-2
     * {@code prefix} is {@code ""} or {@code "transformer."}; Llama ignores it. A tied model has no
     * {@code lm_head.weight}.
     *
     * @throws BadInputException when the config has no Hugging Face layout
     */
    public static Map<String, Tensor> toHf(Params internal, ModelConfig c, String prefix) {
        requireHfLayout(c, "toHf");
        if (c.family() == Family.GPT2 && !prefix.isEmpty() && !prefix.equals(GPT2_PREFIX)) {
            throw new IllegalArgumentException("GPT-2 prefix must be \"\" or \"" + GPT2_PREFIX + "\", got \"" + prefix + "\"");
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Mapping m : mappings(c, prefix)) {
            float[] data = internal.data(m.internal());
            switch (m.kind()) {
                case COPY -> out.put(m.parts().getFirst().name(),
                        new Tensor(m.parts().getFirst().name(), m.parts().getFirst().shape().clone(), data.clone()));
                case TRANSPOSE -> {
                    Part p = m.parts().getFirst();
                    out.put(p.name(), new Tensor(p.name(), p.shape().clone(), transpose(data, m.shape()[0], m.shape()[1])));
                }
                case ROWS -> {
                    int offset = 0;
                    for (Part p : m.parts()) {
                        int n = p.shape()[0] * p.shape()[1];
                        out.put(p.name(), new Tensor(p.name(), p.shape().clone(), Arrays.copyOfRange(data, offset, offset + n)));
                        offset += n;
                    }
                }
            }
        }
        return out;
    }

    /** {@code "transformer."} when any GPT-2 tensor in the file carries that prefix, {@code ""} otherwise. */
    public static String detectGpt2Prefix(SafeTensorsFile file) {
        return detectGpt2Prefix(file.names());
    }

    /** {@code "transformer."} when any name starts with it, {@code ""} otherwise. */
    public static String detectGpt2Prefix(Collection<String> names) {
        for (String n : names) {
            if (n.startsWith(GPT2_PREFIX)) {
                return GPT2_PREFIX;
            }
        }
        return "";
    }

    /**
     * Saves a checkpoint in Hugging Face layout: {@code <dir>/config.json} and {@code <dir>/model.safetensors}
     * (F32, GPT-2 names with the {@code transformer.} prefix, metadata {@code format=pt} as transformers expects),
     * each written atomically.
     *
     * @throws BadInputException when the config has no Hugging Face layout or the files cannot be written
     */
    public static void saveHf(Path dir, Params params, ModelConfig c) {
        byte[] config = ModelConfigs.prettyBytes(ModelConfigs.toHfJson(c));
        List<Tensor> tensors = List.copyOf(toHf(params, c, c.family() == Family.GPT2 ? GPT2_PREFIX : "").values());
        SafeTensorsWriter.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
        SafeTensorsWriter.writeAtomically(dir.resolve("config.json"), config);
    }

    /**
     * Loads a checkpoint in the project's own format: every tensor under its internal name, in file order. Float
     * tensors of any width are accepted. Use {@link #loadInternal(Path, ModelConfig)} to check it against a config.
     */
    public static Params loadInternal(Path file) {
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            Params p = new Params();
            for (String name : st.names()) {
                p.put(st.tensor(name));
            }
            return p;
        }
    }

    /**
     * Loads a checkpoint in the project's own format and checks that its names and shapes are exactly those of
     * {@code ParamLayout.of(c)}; the result is in layout order.
     */
    public static Params loadInternal(Path file, ModelConfig c) {
        Params loaded = loadInternal(file);
        ParamLayout layout = ParamLayout.of(c);
        Params ordered = new Params();
        for (ParamSpec s : layout.specs()) {
            if (loaded.has(s.name())) {
                ordered.put(loaded.get(s.name()));
            }
        }
        for (String n : loaded.names()) {
            if (!layout.has(n)) {
                ordered.put(loaded.get(n));
            }
        }
        ordered.checkAgainst(layout, file.toString());
        return ordered;
    }

    /** Saves parameters in the project's own format (internal names, F32, atomically), with optional metadata. */
    public static void saveInternal(Path file, Params params, Map<String, String> metadata) {
        SafeTensorsWriter.write(file, List.copyOf(params.tensors()), metadata);
    }

    /** Rejects configs that have no Hugging Face layout, naming the offending settings. */
    private static void requireHfLayout(ModelConfig c, String src) {
        List<String> problems = ModelConfigs.hfProblems(c);
        if (!problems.isEmpty()) {
            throw new BadInputException(src + ": the model config has no Hugging Face " + ModelConfigs.id(c.family())
                    + " layout: " + String.join("; ", problems) + "; use the project's checkpoint format instead");
        }
    }

    private static boolean isBuffer(String name, ModelConfig c) {
        return c.family() == Family.GPT2 ? GPT2_MASK_BUFFER.matcher(name).matches() : ROTARY_BUFFER.matcher(name).matches();
    }

    private static void checkShape(String src, TensorInfo t, int[] expected) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new BadInputException(src + ": tensor '" + t.name() + "' has shape " + t.shapeString()
                    + " but the config needs " + Arrays.toString(expected));
        }
    }

    private static float[] toInternal(Mapping m, List<float[]> parts) {
        return switch (m.kind()) {
            case COPY -> parts.getFirst();
            // the file holds [in, out] = [shape[1], shape[0]]
            case TRANSPOSE -> transpose(parts.getFirst(), m.shape()[1], m.shape()[0]);
            case ROWS -> {
                float[] out = new float[m.shape()[0] * m.shape()[1]];
                int offset = 0;
                for (float[] p : parts) {
                    System.arraycopy(p, 0, out, offset, p.length);
                    offset += p.length;
                }
                yield out;
            }
        };
    }

    /** Transposes a row-major (rows, cols) matrix into (cols, rows). */
    private static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            for (int k = 0; k < cols; k++) {
                t[k * rows + r] = a[base + k];
            }
        }
        return t;
    }

    /** The Hugging Face source of every internal tensor, in layout order. */
    private static List<Mapping> mappings(ModelConfig c, String prefix) {
        List<Mapping> out = new ArrayList<>();
        for (ParamSpec s : ParamLayout.of(c).specs()) {
            out.add(c.family() == Family.GPT2 ? gpt2(s, prefix) : llama(s, c));
        }
        return out;
    }

    private static Mapping gpt2(ParamSpec s, String p) {
        String n = s.name();
        int[] sh = s.shape();
        return switch (n) {
            case "wte" -> copy(s, p + "wte.weight");
            case "wpe" -> copy(s, p + "wpe.weight");
            case "lnf.w" -> copy(s, p + "ln_f.weight");
            case "lnf.b" -> copy(s, p + "ln_f.bias");
            case "lm_head" -> copy(s, "lm_head.weight");
            default -> {
                Block b = Block.of(n);
                String h = p + "h." + b.layer() + ".";
                yield switch (b.rest()) {
                    case "ln1.w" -> copy(s, h + "ln_1.weight");
                    case "ln1.b" -> copy(s, h + "ln_1.bias");
                    case "qkv.w" -> transposed(s, h + "attn.c_attn.weight");
                    case "qkv.b" -> copy(s, h + "attn.c_attn.bias");
                    case "attn_proj.w" -> transposed(s, h + "attn.c_proj.weight");
                    case "attn_proj.b" -> copy(s, h + "attn.c_proj.bias");
                    case "ln2.w" -> copy(s, h + "ln_2.weight");
                    case "ln2.b" -> copy(s, h + "ln_2.bias");
                    case "fc.w" -> transposed(s, h + "mlp.c_fc.weight");
                    case "fc.b" -> copy(s, h + "mlp.c_fc.bias");
                    case "mlp_proj.w" -> transposed(s, h + "mlp.c_proj.weight");
                    case "mlp_proj.b" -> copy(s, h + "mlp.c_proj.bias");
                    default -> throw new IllegalStateException("no GPT-2 tensor for parameter " + n + " " + Arrays.toString(sh));
                };
            }
        };
    }

    private static Mapping llama(ParamSpec s, ModelConfig c) {
        String n = s.name();
        int in = c.dModel();
        return switch (n) {
            case "wte" -> copy(s, "model.embed_tokens.weight");
            case "lnf.w" -> copy(s, "model.norm.weight");
            case "lm_head" -> copy(s, "lm_head.weight");
            default -> {
                Block b = Block.of(n);
                String h = "model.layers." + b.layer() + ".";
                yield switch (b.rest()) {
                    case "ln1.w" -> copy(s, h + "input_layernorm.weight");
                    case "qkv.w" -> rows(s,
                            new Part(h + "self_attn.q_proj.weight", new int[] {c.qDim(), in}),
                            new Part(h + "self_attn.k_proj.weight", new int[] {c.kvDim(), in}),
                            new Part(h + "self_attn.v_proj.weight", new int[] {c.kvDim(), in}));
                    case "attn_proj.w" -> copy(s, h + "self_attn.o_proj.weight");
                    case "ln2.w" -> copy(s, h + "post_attention_layernorm.weight");
                    case "fc.w" -> rows(s,
                            new Part(h + "mlp.gate_proj.weight", new int[] {c.dFf(), in}),
                            new Part(h + "mlp.up_proj.weight", new int[] {c.dFf(), in}));
                    case "mlp_proj.w" -> copy(s, h + "mlp.down_proj.weight");
                    default -> throw new IllegalStateException("no Llama tensor for parameter " + n);
                };
            }
        };
    }

    private static Mapping copy(ParamSpec s, String hf) {
        return new Mapping(s.name(), s.shape(), Kind.COPY, List.of(new Part(hf, s.shape())));
    }

    private static Mapping transposed(ParamSpec s, String hf) {
        return new Mapping(s.name(), s.shape(), Kind.TRANSPOSE, List.of(new Part(hf, new int[] {s.shape()[1], s.shape()[0]})));
    }

    private static Mapping rows(ParamSpec s, Part... parts) {
        return new Mapping(s.name(), s.shape(), Kind.ROWS, List.of(parts));
    }

    /** An internal per-layer name {@code h.{layer}.{rest}}. */
    private record Block(int layer, String rest) {
        static Block of(String name) {
            if (!name.startsWith("h.")) {
                throw new IllegalStateException("not a block parameter: " + name);
            }
            int dot = name.indexOf('.', 2);
            return new Block(Integer.parseInt(name.substring(2, dot)), name.substring(dot + 1));
        }
    }
}
