package io.resflow.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.resflow.model.BadInputException;
import java.nio.file.Path;
import java.util.Set;

/**
 * A run config: which model, where, and how to train it.
 * <pre>
 * {"model": {inline model config} | "path to a model config, config.json or a folder",
 *  "backend": "auto", "batch": 4, "seq_len": 64, "steps": 5, "lr": 1e-3, "weight_decay": 0.1, "seed": 1,
 *  "recompute": false}
 * </pre>
 */
public record RunConfig(Path file, String name, ModelSource model, String backend, int batch, int seqLen, int steps,
        double lr, double weightDecay, long seed, boolean recompute) {

    static final Set<String> FIELDS = Set.of("model", "backend", "batch", "seq_len", "steps", "lr", "weight_decay",
            "seed", "recompute");

    public static RunConfig load(Path file) {
        JsonNode root = JsonFields.read(file);
        JsonFields f = new JsonFields(root, file);
        f.allowOnly(FIELDS);
        ModelSource model = ModelSource.fromRunConfig(root.get("model"), file);
        int seqLen = f.integer("seq_len", 64, 1);
        if (seqLen > model.config().maxSeqLen()) {
            throw new BadInputException(file + ": field 'seq_len' is " + seqLen + ", longer than the model's max_seq_len "
                    + model.config().maxSeqLen());
        }
        String name = file.getFileName().toString().replaceFirst("\\.json$", "");
        return new RunConfig(file, name, model, f.text("backend", "auto"), f.integer("batch", 4, 1), seqLen,
                f.integer("steps", 5, 0), f.number("lr", 1e-3, 0), f.number("weight_decay", 0.1, 0),
                f.longValue("seed", 1), f.bool("recompute", false));
    }
}
