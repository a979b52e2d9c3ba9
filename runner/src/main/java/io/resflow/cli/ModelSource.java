package io.resflow.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.resflow.model.BadInputException;
import io.resflow.model.HfWeights;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.ModelConfigs;
import io.resflow.model.Params;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * A model and its initial weights, from a run config's {@code model} field: an inline model config, or a path to a
 * model config, a Hugging Face config.json, or a folder with config.json (+ model.safetensors, loaded when present).
 * Without weights the parameters are the seeded initialisation of {@link Initializer}. The weights are made (or
 * read) when first asked for, so that loading a run config only parses and checks it (sizes included) and allocates
 * nothing.
 */
public record ModelSource(String name, ModelConfig config, Supplier<Params> weights, String weightsFrom) {

    /** The initial weights (made or read on the first call, then the same object). */
    public Params params() {
        return weights.get();
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

    public static ModelSource fromRunConfig(JsonNode node, Path runConfigFile) {
        String source = runConfigFile + ": field 'model'";
        if (node == null || node.isNull()) {
            throw new BadInputException(runConfigFile + ": missing field 'model'");
        }
        if (node.isObject()) {
            ModelConfig c = ModelConfigs.fromJson(node, source);
            return new ModelSource("inline", c, once(() -> Initializer.init(c)), "seeded init (init_seed " + c.initSeed() + ")");
        }
        if (!node.isTextual()) {
            throw new BadInputException(source + " must be an inline model config or a path");
        }
        Path base = runConfigFile.toAbsolutePath().getParent();
        Path p = base.resolve(node.asText());
        if (!Files.exists(p)) {
            Path cwd = Path.of(node.asText());
            if (Files.exists(cwd)) {
                p = cwd;
            } else {
                throw new BadInputException(source + ": no such file or folder: " + p);
            }
        }
        return fromPath(p);
    }

    public static ModelSource fromPath(Path p) {
        if (Files.isDirectory(p)) {
            Path cfg = p.resolve("config.json");
            ModelConfig c = ModelConfigs.load(cfg);
            Path weights = p.resolve("model.safetensors");
            if (Files.exists(weights)) {
                return new ModelSource(p.getFileName().toString(), c, once(() -> HfWeights.load(weights, c)), weights.toString());
            }
            return new ModelSource(p.getFileName().toString(), c, once(() -> Initializer.init(c)), "seeded init (init_seed " + c.initSeed() + ")");
        }
        ModelConfig c = ModelConfigs.load(p);
        String name = p.getFileName().toString().replaceFirst("\\.json$", "");
        return new ModelSource(name, c, once(() -> Initializer.init(c)), "seeded init (init_seed " + c.initSeed() + ")");
    }
}
