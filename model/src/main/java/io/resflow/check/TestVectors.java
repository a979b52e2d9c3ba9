package io.resflow.check;

import com.fasterxml.jackson.databind.JsonNode;
import io.resflow.engine.AdamW;
import io.resflow.model.BadInputException;
import io.resflow.model.Family;
import io.resflow.model.HfWeights;
import io.resflow.model.ModelConfig;
import io.resflow.model.ModelConfigs;
import io.resflow.model.Params;
import io.resflow.safetensors.SafeTensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One folder of the test-vector format: a Hugging Face model (config.json, model.safetensors) and what an independent
 * implementation computed for it (vectors.safetensors, vectors.json). See testvectors/README.md.
 *
 * @param hfPrefix the GPT-2 name prefix the folder uses ("" or "transformer."), used to name gradients
 */
public record TestVectors(
        Path dir,
        ModelConfig config,
        Params params,
        String hfPrefix,
        int batch,
        int seqLen,
        int[] inputs,
        int[] targets,
        float[] logits,
        double loss,
        Map<String, float[]> grads,
        Map<String, float[]> afterStep1,
        double[] lossesAfterSteps,
        double lr,
        AdamW adamw) {

    /** Whether dir looks like a test-vector folder (it holds vectors.safetensors). */
    public static boolean isFolder(Path dir) {
        return Files.isRegularFile(dir.resolve("vectors.safetensors"));
    }

    /** The test-vector folders directly under {@code root}, sorted by name. */
    public static java.util.List<Path> folders(Path root) {
        try (java.util.stream.Stream<Path> s = Files.list(root)) {
            return s.filter(TestVectors::isFolder).sorted().toList();
        } catch (java.io.IOException e) {
            throw new BadInputException(root + ": cannot list test-vector folders: " + e.getMessage());
        }
    }

    public static TestVectors load(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new BadInputException(dir + ": not a test-vector folder (no such directory)");
        }
        ModelConfig config = ModelConfigs.load(dir.resolve("config.json"));
        Path model = dir.resolve("model.safetensors");
        Params params = HfWeights.load(model, config);
        String prefix = "";
        if (config.family() == Family.GPT2) {
            try (SafeTensorsFile f = SafeTensorsFile.open(model)) {
                prefix = HfWeights.detectGpt2Prefix(f);
            }
        }
        Path vjson = dir.resolve("vectors.json");
        JsonNode meta = ModelConfigs.readJson(vjson);
        JsonNode opt = meta.path("adamw");
        if (!opt.isObject()) {
            throw new BadInputException(vjson + ": missing object 'adamw'");
        }
        double lr = number(opt, "lr", vjson);
        AdamW adamw = new AdamW(number(opt, "beta1", vjson), number(opt, "beta2", vjson), number(opt, "eps", vjson),
                number(opt, "weight_decay", vjson));

        Path vfile = dir.resolve("vectors.safetensors");
        try (SafeTensorsFile v = SafeTensorsFile.open(vfile)) {
            int[] shape = require(v, "inputs", vfile).shape();
            if (shape.length != 2) {
                throw new BadInputException(vfile + ": tensor 'inputs' must be [B,T], got " + java.util.Arrays.toString(shape));
            }
            int B = shape[0];
            int T = shape[1];
            int[] inputs = v.ints("inputs");
            int[] targets = v.ints(require(v, "targets", vfile).name());
            if (targets.length != inputs.length) {
                throw new BadInputException(vfile + ": tensor 'targets' must have the shape of 'inputs'");
            }
            float[] logits = v.floats(require(v, "logits", vfile).name());
            if (logits.length != (long) B * T * config.vocabSize()) {
                throw new BadInputException(vfile + ": tensor 'logits' must be [B,T,vocab_size] = [" + B + "," + T + ","
                        + config.vocabSize() + "]");
            }
            double loss = v.doubles(require(v, "loss", vfile).name())[0];
            Map<String, float[]> grads = new LinkedHashMap<>();
            Map<String, float[]> after = new LinkedHashMap<>();
            for (String hfName : HfWeights.toHf(params, config, prefix).keySet()) {
                grads.put(hfName, v.floats(require(v, "grad." + hfName, vfile).name()));
                after.put(hfName, v.floats(require(v, "after_step1." + hfName, vfile).name()));
            }
            if (T > config.maxSeqLen()) {
                throw new BadInputException(vfile + ": tensor 'inputs' has sequence length " + T + ", longer than "
                        + dir.resolve("config.json") + " max_seq_len " + config.maxSeqLen());
            }
            checkIds(vfile, "inputs", inputs, config.vocabSize());
            checkIds(vfile, "targets", targets, config.vocabSize());
            double[] losses = v.has("losses_after_steps") ? v.doubles("losses_after_steps") : new double[0];
            return new TestVectors(dir, config, params, prefix, B, T, inputs, targets, logits, loss, grads, after, losses,
                    lr, adamw);
        }
    }

    private static io.resflow.safetensors.TensorInfo require(SafeTensorsFile f, String name, Path file) {
        if (!f.has(name)) {
            throw new BadInputException(file + ": missing tensor '" + name + "'");
        }
        return f.info(name);
    }

    private static void checkIds(Path file, String tensor, int[] ids, int vocab) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new BadInputException(file + ": tensor '" + tensor + "' has token id " + ids[i] + " at index " + i
                        + ", out of range for vocab_size " + vocab);
            }
        }
    }

    private static double number(JsonNode node, String field, Path file) {
        JsonNode n = node.get(field);
        if (n == null || !n.isNumber()) {
            throw new BadInputException(file + ": field 'adamw." + field + "' must be a number");
        }
        return n.asDouble();
    }
}
