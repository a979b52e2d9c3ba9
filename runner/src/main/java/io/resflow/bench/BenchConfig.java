package io.resflow.bench;

import io.resflow.data.DataSpec;
import io.resflow.out.JsonFields;
import io.resflow.train.ModelSource;
import io.resflow.train.RunConfig;

import com.fasterxml.jackson.databind.JsonNode;
import io.resflow.model.BadInputException;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.ModelConfigs;
import io.resflow.model.Params;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A benchmark matrix: models x backends/devices x modes. See the README (Bench configs).
 * <pre>
 * {"name": "matrix",
 *  "models": ["gpt2-tiny.json", {"name": "gpt2-small", "model": "gpt2-small.json", "batch": 1, "seq_len": 128}],
 *  "backends": ["reference", "jvm", "tornado:*"], "modes": ["forward", "train"],
 *  "batch": 4, "seq_len": 64, "warmup": 2, "repeats": 10, "max_seconds_per_cell": 60,
 *  "peak_gflops": {"jvm": 150, "tornado:0:0": 19500}, "check": "auto", "reference_max_gflop": 5, "seed": 1,
 *  "dtype": "fp32" | "bf16" (every cell and its check in that precision)}
 * </pre>
 * A model entry is a run config (its model, batch, seq_len and recompute are used), a model config or folder, or an
 * object with {@code model} (inline or path) and optional {@code name}, {@code batch}, {@code seq_len},
 * {@code recompute}. Paths are relative to the bench config's folder.
 */
public record BenchConfig(Path file, String name, List<Model> models, List<String> backends, List<Mode> modes, int warmup,
        int repeats, double maxSecondsPerCell, Map<String, Double> peakGflops, Check check, double referenceMaxGflop,
        long seed, int promptLen, int newTokens, io.resflow.engine.Precision dtype) {

    /** The same matrix in another precision (bench --dtype). */
    public BenchConfig withDtype(io.resflow.engine.Precision p) {
        return new BenchConfig(file, name, models, backends, modes, warmup, repeats, maxSecondsPerCell, peakGflops, check,
                referenceMaxGflop, seed, promptLen, newTokens, p);
    }

    /** forward: a forward pass with loss; train: a training step; decode: a prompt's prefill, then greedy tokens. */
    public enum Mode {
        FORWARD, TRAIN, DECODE;

        public String id() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** How each cell's result is checked: see {@link Bench}. */
    public enum Check {
        AUTO, REFERENCE, JVM, REDUCED, NONE;

        public String id() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * One model of the matrix; its weights are made (or read) when it is benchmarked.
     *
     * @param weights the model's weights (a {@link ModelSource}: a model folder, a run folder or a checkpoint), or null
     *     for the seeded initialisation
     */
    record Model(String name, ModelConfig config, ModelSource weights, int batch, int seqLen, boolean recompute) {
        Params params() {
            return weights != null ? weights.params() : Initializer.init(config);
        }
    }

    static final Set<String> FIELDS = Set.of("name", "models", "backends", "modes", "batch", "seq_len", "warmup",
            "repeats", "max_seconds_per_cell", "peak_gflops", "check", "reference_max_gflop", "seed", "prompt_len",
            "new_tokens", "dtype");
    static final Set<String> MODEL_FIELDS = Set.of("name", "model", "batch", "seq_len", "recompute");

    public static BenchConfig load(Path file) {
        JsonNode root = JsonFields.read(file);
        JsonFields f = new JsonFields(root, file);
        f.allowOnly(FIELDS);
        int batch = f.integer("batch", 4, 1);
        int seqLen = f.integer("seq_len", 64, 1);
        List<Model> models = new ArrayList<>();
        JsonNode ms = requireArray(root, "models", file);
        for (int i = 0; i < ms.size(); i++) {
            Model m = model(ms.get(i), file, "models[" + i + "]", batch, seqLen);
            try {
                io.resflow.model.Sizes.checkBatch(m.config(), io.resflow.model.Sizes.Dim.field("models[" + i + "].batch", m.batch()),
                        io.resflow.model.Sizes.Dim.field("models[" + i + "].seq_len", m.seqLen()));
            } catch (BadInputException e) {
                throw new BadInputException(file + ": " + e.getMessage(), e);
            }
            models.add(m);
        }
        List<String> backends = new ArrayList<>();
        for (JsonNode n : requireArray(root, "backends", file)) {
            if (!n.isTextual() || n.asText().isBlank()) {
                throw new BadInputException(file + ": field 'backends' must hold backend names, got " + n);
            }
            backends.add(n.asText());
        }
        List<Mode> modes = new ArrayList<>();
        JsonNode mn = root.get("modes");
        if (mn == null) {
            modes.addAll(List.of(Mode.FORWARD, Mode.TRAIN));
        } else {
            for (JsonNode n : requireArray(root, "modes", file)) {
                modes.add(switch (n.asText()) {
                    case "forward" -> Mode.FORWARD;
                    case "train" -> Mode.TRAIN;
                    case "decode" -> Mode.DECODE;
                    default -> throw new BadInputException(file + ": field 'modes': unknown mode " + n
                            + " (forward, train, decode)");
                });
            }
        }
        Map<String, Double> peaks = new LinkedHashMap<>();
        JsonNode pn = root.get("peak_gflops");
        if (pn != null) {
            if (!pn.isObject()) {
                throw new BadInputException(file + ": field 'peak_gflops' must be an object {\"backend\": GFLOP/s}, got " + pn);
            }
            for (var it = pn.properties().iterator(); it.hasNext(); ) {
                var e = it.next();
                if (!e.getValue().isNumber() || !(e.getValue().asDouble() > 0)) {
                    throw new BadInputException(file + ": field 'peak_gflops." + e.getKey() + "' must be a positive number, got "
                            + e.getValue());
                }
                peaks.put(e.getKey(), e.getValue().asDouble());
            }
        }
        Check check = Check.valueOf(f.choice("check", "auto", List.of("auto", "reference", "jvm", "reduced", "none"))
                .toUpperCase(java.util.Locale.ROOT));
        String name = f.text("name", file.getFileName().toString().replaceFirst("\\.json$", ""));
        return new BenchConfig(file, name, models, backends, modes, f.integer("warmup", 2, 1), f.integer("repeats", 10, 1),
                f.number("max_seconds_per_cell", 60, 0), peaks, check, f.number("reference_max_gflop", 5, 0),
                f.longValue("seed", 1), f.integer("prompt_len", 16, 1), f.integer("new_tokens", 64, 1),
                io.resflow.engine.Precision.parse(f.choice("dtype", "fp32", List.of("fp32", "bf16")),
                        file + ": field 'dtype'"));
    }

    private static JsonNode requireArray(JsonNode root, String field, Path file) {
        JsonNode n = root.get(field);
        if (n == null) {
            throw new BadInputException(file + ": missing field '" + field + "'");
        }
        if (!n.isArray() || n.isEmpty()) {
            throw new BadInputException(file + ": field '" + field + "' must be a non-empty array, got " + n);
        }
        return n;
    }

    private static Model model(JsonNode n, Path file, String where, int batch, int seqLen) {
        if (n.isTextual()) {
            Path p = DataSpec.resolve(file, n.asText());
            return fromPath(p, file + ": " + where, null, batch, seqLen, false);
        }
        if (!n.isObject()) {
            throw new BadInputException(file + ": " + where + " must be a path or an object with 'model', got " + n);
        }
        JsonFields f = new JsonFields(n, file, where + ".");
        f.allowOnly(MODEL_FIELDS);
        JsonNode m = n.get("model");
        if (m == null) {
            throw new BadInputException(file + ": missing field '" + where + ".model'");
        }
        int b = f.integer("batch", batch, 1);
        int t = f.integer("seq_len", seqLen, 1);
        boolean rec = f.bool("recompute", false);
        String name = f.text("name", null);
        Model base;
        if (m.isObject()) {
            ModelConfig c = ModelConfigs.fromJson(m, file + ": field '" + where + ".model'");
            base = new Model(name != null ? name : "model" + where.replaceAll("\\D", ""), c, null, b, t, rec);
        } else if (m.isTextual()) {
            base = fromPath(DataSpec.resolve(file, m.asText()), file + ": " + where + ".model", name, b, t, rec);
            base = new Model(base.name(), base.config(), base.weights(), b, t, rec);
        } else {
            throw new BadInputException(file + ": field '" + where + ".model' must be an inline model config or a path");
        }
        if (base.seqLen() > base.config().maxSeqLen()) {
            throw new BadInputException(file + ": " + where + ": seq_len " + base.seqLen() + " is longer than the model's "
                    + "max_seq_len " + base.config().maxSeqLen());
        }
        return base;
    }

    /**
     * A run config (has 'model'), a model config, a model folder (config.json + model.safetensors), a run folder or a
     * checkpoint.
     */
    private static Model fromPath(Path p, String where, String name, int batch, int seqLen, boolean recompute) {
        if (!Files.exists(p)) {
            throw new BadInputException(where + ": no such file or folder: " + p);
        }
        String base = p.getFileName().toString().replaceFirst("\\.json$", "");
        if (Files.isDirectory(p) || p.getFileName().toString().endsWith(".safetensors")) {
            ModelSource src = ModelSource.resolve(p, where);
            check(where, src.config(), seqLen);
            return new Model(name != null ? name : src.name(), src.config(), src.pretrained() ? src : null, batch, seqLen,
                    recompute);
        }
        JsonNode root = JsonFields.read(p);
        if (!root.has("model")) {
            ModelConfig c = ModelConfigs.load(p);
            check(where, c, seqLen);
            return new Model(name != null ? name : base, c, null, batch, seqLen, recompute);
        }
        JsonFields f = new JsonFields(root, p);
        f.allowOnly(RunConfig.FIELDS);
        int b = f.integer("batch", batch, 1);
        int t = f.integer("seq_len", seqLen, 1);
        boolean rec = f.bool("recompute", recompute);
        JsonNode m = root.get("model");
        Model inner;
        if (root.hasNonNull("weights")) {
            ModelSource src = ModelSource.fromRunConfig(m, root.get("weights"), p);
            inner = new Model(base, src.config(), src, b, t, rec);
        } else if (m.isObject()) {
            inner = new Model(base, ModelConfigs.fromJson(m, p + ": field 'model'"), null, b, t, rec);
        } else if (m.isTextual()) {
            Path mp = DataSpec.resolve(p, m.asText());
            if (Files.exists(mp) && !Files.isDirectory(mp) && JsonFields.read(mp).has("model")) {
                throw new BadInputException(p + ": field 'model' names another run config: " + mp);
            }
            inner = fromPath(mp, p + ": field 'model'", base, b, t, rec);
        } else {
            throw new BadInputException(p + ": field 'model' must be an inline model config or a path");
        }
        check(p.toString(), inner.config(), t);
        return new Model(name != null ? name : f.text("name", base), inner.config(), inner.weights(), b, t, rec);
    }

    private static void check(String where, ModelConfig c, int seqLen) {
        if (seqLen > c.maxSeqLen()) {
            throw new BadInputException(where + ": seq_len " + seqLen + " is longer than the model's max_seq_len "
                    + c.maxSeqLen());
        }
    }
}
