package io.resflow.train;

import io.resflow.out.JsonFields;

import com.fasterxml.jackson.databind.JsonNode;
import io.resflow.model.BadInputException;
import io.resflow.model.HfWeights;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.ModelConfigs;
import io.resflow.model.Params;
import io.resflow.safetensors.SafeTensorsFile;
import io.resflow.text.HfTokenizer;
import io.resflow.text.Tokenizer;
import io.resflow.text.Tokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * A model, its weights and (when known) its tokenizer, from what a user names as MODEL (a command's argument or a
 * run config's {@code model} field):
 * <ul>
 * <li>a model config JSON (the project's schema or a Hugging Face {@code config.json}): seeded initial weights;</li>
 * <li>a model folder with {@code config.json} (a Hugging Face folder or a {@code resflow export}): its
 *     {@code model.safetensors} when present (else seeded weights), its {@code tokenizer.json}, and the end-of-sequence
 *     ids its {@code generation_config.json} or {@code config.json} names (in that order, as transformers reads them);</li>
 * <li>a run folder (with {@code run.json}): its newest checkpoint that verifies, the model of its run.json, and the
 *     tokenizer of its {@code text_file} data;</li>
 * <li>a checkpoint file ({@code ckpt-<step>.safetensors}): the model and tokenizer of the run config in its metadata;
 *     a checksum file beside it must match;</li>
 * <li>a Hugging Face {@code model.safetensors}: with the {@code config.json} beside it.</li>
 * </ul>
 * Weights are read when first asked for, so that resolving only parses and checks (sizes included) and allocates
 * nothing.
 *
 * @param weightsFrom how the weights come, for run headers: a file, or {@code seeded init (init_seed N)}
 * @param weightsPath the file (checkpoint, or a folder's model.safetensors) the weights are read from; null when they
 *     are the seeded initialisation
 * @param tokenizer the tokenizer's spec ({@code bytes}, {@code gpt2}, an absolute tokenizer.json path), or null when
 *     unknown
 * @param eosIds the end-of-sequence ids a model folder's generation_config.json or config.json names (empty: none)
 */
public record ModelSource(String name, ModelConfig config, Supplier<Params> weights, String weightsFrom,
        Path weightsPath, String tokenizer, List<Integer> eosIds) {

    public ModelSource {
        eosIds = List.copyOf(eosIds);
    }

    /** The initial weights (made or read on the first call, then the same object). */
    public Params params() {
        return weights.get();
    }

    /** Whether the weights come from a file (a checkpoint or a model folder), not the seeded initialisation. */
    public boolean pretrained() {
        return weightsPath != null;
    }

    /** The tokenizer, when known (the caller closes it). */
    public Optional<Tokenizer> openTokenizer() {
        return tokenizer == null ? Optional.empty() : Optional.of(Tokenizers.resolve(tokenizer, null, name + ": tokenizer"));
    }

    /** The same source with another tokenizer spec. */
    public ModelSource withTokenizer(String spec) {
        return new ModelSource(name, config, weights, weightsFrom, weightsPath, spec, eosIds);
    }

    private static Supplier<Params> once(Supplier<Params> make) {
        return new Supplier<>() {
            private Params p;

            @Override
            public synchronized Params get() {
                if (p == null) {
                    p = make.get();
                }
                return p;
            }
        };
    }

    private static ModelSource seeded(String name, ModelConfig c, String tokenizer, List<Integer> eos) {
        return new ModelSource(name, c, once(() -> Initializer.init(c)), "seeded init (init_seed " + c.initSeed() + ")",
                null, tokenizer, eos);
    }

    /**
     * The run config's {@code model} (an inline model config or a path, see the class comment) and, when given, its
     * {@code weights} (a path to weights for that model: a checkpoint, a run folder or a model folder).
     */
    public static ModelSource fromRunConfig(JsonNode node, JsonNode weightsNode, Path runConfigFile) {
        ModelSource m = fromRunConfig(node, runConfigFile);
        if (weightsNode == null || weightsNode.isNull()) {
            return m;
        }
        String where = runConfigFile + ": field 'weights'";
        if (!weightsNode.isTextual()) {
            throw new BadInputException(where + " must be a path (a checkpoint, a run folder or a model folder), got "
                    + weightsNode);
        }
        ModelSource w = resolve(existing(runConfigFile, weightsNode.asText(), where), where);
        if (!w.pretrained()) {
            throw new BadInputException(where + ": " + weightsNode.asText() + " holds no weights (a model config or a "
                    + "folder without model.safetensors)");
        }
        if (!sameArchitecture(m.config(), w.config())) {
            throw new BadInputException(where + ": the weights in " + w.weightsPath() + " are of another model than "
                    + "field 'model' (" + ModelConfigs.toJson(w.config()) + " against " + ModelConfigs.toJson(m.config()) + ")");
        }
        ModelConfig c = m.config();
        return new ModelSource(m.name(), c, w.weights(), w.weightsFrom(), w.weightsPath(),
                m.tokenizer() != null ? m.tokenizer() : w.tokenizer(), w.eosIds());
    }

    /** Whether two configs describe the same model (the init seed aside). */
    public static boolean sameArchitecture(ModelConfig a, ModelConfig b) {
        var ja = ModelConfigs.toJson(a);
        var jb = ModelConfigs.toJson(b);
        ja.remove("init_seed");
        jb.remove("init_seed");
        return ja.equals(jb);
    }

    /** The run config's {@code model} field: an inline model config or a path (see the class comment). */
    public static ModelSource fromRunConfig(JsonNode node, Path runConfigFile) {
        String source = runConfigFile + ": field 'model'";
        if (node == null || node.isNull()) {
            throw new BadInputException(runConfigFile + ": missing field 'model'");
        }
        if (node.isObject()) {
            ModelConfig c = ModelConfigs.fromJson(node, source);
            return seeded("inline", c, null, List.of());
        }
        if (!node.isTextual()) {
            throw new BadInputException(source + " must be an inline model config or a path");
        }
        return resolve(existing(runConfigFile, node.asText(), source), source);
    }

    private static Path existing(Path runConfigFile, String given, String where) {
        Path base = runConfigFile.toAbsolutePath().getParent();
        Path p = base.resolve(given).normalize();
        if (!Files.exists(p)) {
            Path cwd = Path.of(given);
            if (Files.exists(cwd)) {
                return cwd;
            }
            throw new BadInputException(where + ": no such file or folder: " + p);
        }
        return p;
    }

    /** MODEL as a command's argument gives it (see the class comment). */
    public static ModelSource fromPath(Path p) {
        return resolve(p, p.toString());
    }

    /**
     * MODEL as a path (see the class comment).
     *
     * @param where what named it, for messages when the path does not exist
     * @throws BadInputException naming the file and what is wrong with it
     */
    public static ModelSource resolve(Path p, String where) {
        if (!Files.exists(p)) {
            throw new BadInputException(where + ": no such file or folder: " + p);
        }
        if (Files.isDirectory(p)) {
            if (Files.isRegularFile(p.resolve("run.json"))) {
                return runFolder(p);
            }
            if (Files.isRegularFile(p.resolve("config.json"))) {
                return modelFolder(p);
            }
            throw new BadInputException(p + ": folder has neither config.json (a model folder) nor run.json (a run "
                    + "folder); give a model config, a model folder, a run folder or a checkpoint");
        }
        if (p.getFileName().toString().endsWith(".safetensors")) {
            return weightsFile(p);
        }
        ModelConfig c = ModelConfigs.load(p);
        String name = p.getFileName().toString().replaceFirst("\\.json$", "");
        if (name.equals("config") && p.toAbsolutePath().getParent() != null) {
            name = p.toAbsolutePath().getParent().getFileName().toString();
        }
        return seeded(name, c, null, List.of());
    }

    private static ModelSource modelFolder(Path dir) {
        ModelConfig c = ModelConfigs.load(dir.resolve("config.json"));
        String name = dir.toAbsolutePath().normalize().getFileName().toString();
        Path tok = dir.resolve(HfTokenizer.FILE);
        String tokenizer = Files.isRegularFile(tok) ? tok.toAbsolutePath().normalize().toString() : null;
        List<Integer> eos = eosIds(dir);
        Path weights = dir.resolve("model.safetensors");
        if (Files.exists(weights)) {
            return new ModelSource(name, c, once(() -> HfWeights.load(weights, c)), weights.toString(),
                    weights.toAbsolutePath().normalize(), tokenizer, eos);
        }
        return seeded(name, c, tokenizer, eos);
    }

    /**
     * The end-of-sequence ids of a model folder: {@code eos_token_id} (an integer or a list) of its
     * generation_config.json, else of its config.json.
     */
    static List<Integer> eosIds(Path dir) {
        for (String f : List.of("generation_config.json", "config.json")) {
            Path file = dir.resolve(f);
            if (!Files.isRegularFile(file)) {
                continue;
            }
            JsonNode e = ModelConfigs.readJson(file).get("eos_token_id");
            if (e == null || e.isNull()) {
                continue;
            }
            List<Integer> ids = new ArrayList<>();
            for (JsonNode v : e.isArray() ? e : List.of(e)) {
                if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0) {
                    throw new BadInputException(file + ": field 'eos_token_id' must be a non-negative integer or a list "
                            + "of them, got " + e);
                }
                ids.add(v.asInt());
            }
            return ids;
        }
        return List.of();
    }

    private static ModelSource runFolder(Path dir) {
        Path runJson = dir.resolve("run.json");
        JsonNode root = JsonFields.read(runJson);
        ModelConfig c = runModel(root, runJson.toString());
        Path ckpt = Checkpoints.selectForResume(dir, "a run folder's weights are those of its newest checkpoint that "
                + "verifies").file();
        String name = dir.toAbsolutePath().normalize().getFileName().toString();
        return new ModelSource(name, c, once(() -> Checkpoints.loadParams(ckpt, c)), ckpt.toString(),
                ckpt.toAbsolutePath().normalize(), tokenizerOf(root.get("data"), runJson.toAbsolutePath().getParent()),
                List.of());
    }

    private static ModelSource weightsFile(Path file) {
        Map<String, String> meta;
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            meta = st.metadata();
        }
        if (!Checkpoints.FORMAT.equals(meta.get("format"))) {
            Path dir = file.toAbsolutePath().getParent();
            if (dir != null && Files.isRegularFile(dir.resolve("config.json"))) {
                ModelSource folder = modelFolder(dir);
                ModelConfig c = folder.config();
                return new ModelSource(folder.name(), c, once(() -> HfWeights.load(file, c)), file.toString(),
                        file.toAbsolutePath().normalize(), folder.tokenizer(), folder.eosIds());
            }
            throw new BadInputException(file + ": neither a resflow checkpoint (metadata 'format' is "
                    + (meta.get("format") == null ? "missing" : "'" + meta.get("format") + "'") + ", expected '"
                    + Checkpoints.FORMAT + "') nor a Hugging Face model.safetensors with a config.json beside it");
        }
        if (Files.exists(Checkpoints.sumFile(file))) {
            String why = Checkpoints.problem(file);
            if (why != null) {
                throw new BadInputException(file + ": the checkpoint does not verify: " + why);
            }
        }
        String rc = meta.get("run_config");
        if (rc == null) {
            throw new BadInputException(file + ": checkpoint metadata has no 'run_config' (the model it holds is unknown)");
        }
        JsonNode root = ModelConfigs.parseJson(rc, file + ": metadata 'run_config'");
        ModelConfig c = runModel(root, file + ": metadata 'run_config'");
        String name = file.getFileName().toString().replaceFirst("\\.safetensors$", "");
        return new ModelSource(name, c, once(() -> Checkpoints.loadParams(file, c)), file.toString(),
                file.toAbsolutePath().normalize(), tokenizerOf(root.get("data"), null), List.of());
    }

    /** The inline model config a run.json (or a checkpoint's run config) holds. */
    private static ModelConfig runModel(JsonNode runConfig, String source) {
        JsonNode m = runConfig.get("model");
        if (m == null || !m.isObject()) {
            throw new BadInputException(source + ": field 'model' must be the inline model config resflow writes, got "
                    + (m == null ? "nothing" : m.toString()));
        }
        return ModelConfigs.fromJson(m, source + ": field 'model'");
    }

    /** The tokenizer of a run's data: a text_file's {@code tokenizer} (bytes when absent); unknown otherwise. */
    static String tokenizerOf(JsonNode data, Path base) {
        if (data == null || !data.isObject() || !"text_file".equals(data.path("type").asText())) {
            return null;
        }
        JsonNode t = data.get("tokenizer");
        if (t == null || !t.isTextual()) {
            return io.resflow.text.ByteTokenizer.SPEC;
        }
        String s = t.asText();
        if (s.equals(io.resflow.text.ByteTokenizer.SPEC) || s.equals(io.resflow.text.Gpt2Tokenizer.SPEC) || base == null) {
            return s;
        }
        return base.resolve(s).toAbsolutePath().normalize().toString();
    }
}
