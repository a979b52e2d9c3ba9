package io.resflow.train;

import io.resflow.data.DataSource;
import io.resflow.data.DataSpec;
import io.resflow.out.JsonFields;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resflow.engine.AdamW;
import io.resflow.engine.Precision;
import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfigs;
import io.resflow.model.Sizes;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A run config: which model, where, on what data and how to train it. Every field but {@code model} is optional;
 * see the README for the reference. A model with weights from a file (a checkpoint, a run folder, a Hugging Face
 * folder) is fine-tuned: the run starts from those weights with a fresh optimizer; {@link #toJson} then writes the
 * model inline and the weights' file as {@code weights}, so that a restart starts from the same weights.
 * <pre>
 * {"name": "gpt2-tiny", "model": {inline model config} | "path: a model config, a model folder (config.json, with
 *      model.safetensors: its weights), a run folder (its newest checkpoint) or a checkpoint",
 *  "weights": "path: a checkpoint, run folder or model folder whose weights (of the same model) the run starts from",
 *  "backend": "auto", "task": "train" | "forward",
 *  "batch": 4, "seq_len": 64, "steps": 5,
 *  "lr": 1e-3, "lr_schedule": "constant" | "cosine", "warmup_steps": 0, "min_lr": 0.0,
 *  "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.999, "adam_eps": 1e-8, "grad_clip": 0,
 *  "seed": 1, "checkpoint_every": 0, "keep_checkpoints": 2,
 *  "data": "synthetic" | {"type": "synthetic"|"token_file"|"text_file"|"inline", ...},
 *  "recompute": false, "mpi": "auto" | "on" | "off", "param_check_every": 0 (auto) | K,
 *  "allreduce_bucket_mb": 25 (0: one blocking all-reduce after the backward),
 *  "dtype": "fp32" | "bf16" (bf16 autocast with fp32 master weights, see Precision)}
 * </pre>
 */
public record RunConfig(Path file, String name, ModelSource model, String backend, Task task, int batch, int seqLen,
        int steps, LrSchedule schedule, AdamW adamw, double gradClip, long seed, int checkpointEvery,
        int keepCheckpoints, DataSpec data, boolean recompute, String mpi, int paramCheckEvery,
        double bucketMb, Precision dtype) {

    public enum Task {
        TRAIN, FORWARD;

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public static final Set<String> FIELDS = Set.of("name", "model", "backend", "task", "batch", "seq_len", "steps", "lr",
            "lr_schedule", "warmup_steps", "min_lr", "weight_decay", "beta1", "beta2", "adam_eps", "grad_clip", "seed",
            "checkpoint_every", "keep_checkpoints", "data", "recompute", "weights", "mpi", "param_check_every",
            "allreduce_bucket_mb", "dtype");

    public static RunConfig load(Path file) {
        JsonNode root = JsonFields.read(file);
        JsonFields f = new JsonFields(root, file);
        f.allowOnly(FIELDS);
        ModelSource model = ModelSource.fromRunConfig(root.get("model"), root.get("weights"), file);
        int seqLen = f.integer("seq_len", 64, 1);
        if (seqLen > model.config().maxSeqLen()) {
            throw new BadInputException(file + ": field 'seq_len' is " + seqLen + ", longer than the model's max_seq_len "
                    + model.config().maxSeqLen());
        }
        String name = f.text("name", file.getFileName().toString().replaceFirst("\\.json$", ""));
        if (name.isBlank() || !name.matches("[A-Za-z0-9._+-]+")) {
            throw new BadInputException(file + ": field 'name' must be a non-empty file-name-safe string "
                    + "(letters, digits, . _ + -), got '" + name + "'");
        }
        Task task = Task.valueOf(f.choice("task", "train", List.of("train", "forward")).toUpperCase(Locale.ROOT));
        int steps = f.integer("steps", 5, 0);
        double lr = f.number("lr", 1e-3, 0);
        LrSchedule.Kind kind = LrSchedule.Kind.valueOf(
                f.choice("lr_schedule", "constant", List.of("constant", "cosine")).toUpperCase(Locale.ROOT));
        int warmup = f.integer("warmup_steps", 0, 0);
        double minLr = f.number("min_lr", kind == LrSchedule.Kind.COSINE ? 0.0 : lr, 0);
        if (minLr > lr) {
            throw new BadInputException(file + ": field 'min_lr' (" + minLr + ") must not exceed 'lr' (" + lr + ")");
        }
        AdamW adamw = new AdamW(f.numberBelow("beta1", 0.9, 0, 1), f.numberBelow("beta2", 0.999, 0, 1),
                f.number("adam_eps", 1e-8, Double.MIN_VALUE), f.number("weight_decay", 0.1, 0));
        DataSpec data = DataSpec.parse(root.get("data"), file, model.config().vocabSize(), model.tokenizer());
        int batch = f.integer("batch", 4, 1);
        try {
            Sizes.checkBatch(model.config(), Sizes.Dim.field("batch", batch), Sizes.Dim.field("seq_len", seqLen));
        } catch (BadInputException e) {
            throw new BadInputException(file + ": " + e.getMessage(), e);
        }
        return new RunConfig(file, name, model, f.text("backend", "auto"), task, batch, seqLen, steps,
                new LrSchedule(kind, lr, warmup, minLr, steps), adamw, f.number("grad_clip", 0, 0),
                f.longValue("seed", 1), f.integer("checkpoint_every", 0, 0), f.integer("keep_checkpoints", 2, 1), data,
                f.bool("recompute", false), f.choice("mpi", "auto", List.of("auto", "on", "off")),
                f.integer("param_check_every", 0, 0), f.number("allreduce_bucket_mb", DEFAULT_BUCKET_MB, 0),
                Precision.parse(f.choice("dtype", "fp32", List.of("fp32", "bf16")), file + ": field 'dtype'"));
    }

    /** Gradient bucket size of the data-parallel all-reduce, in MB (10^6 bytes), as PyTorch DDP's bucket_cap_mb. */
    public static final double DEFAULT_BUCKET_MB = 25;

    /** The bucket size in floats (at least one), or 0: one blocking all-reduce after the backward. */
    public long bucketFloats() {
        return bucketMb == 0 ? 0 : Math.max(1, (long) (bucketMb * 1e6 / 4));
    }

    /** Whether a checkpoint is written after {@code step} of a run that ends at {@code last}: every K steps, and last. */
    public boolean checkpointAfter(int step, int last) {
        return (checkpointEvery > 0 && step % checkpointEvery == 0) || step == last;
    }

    /** The peak learning rate. */
    public double lr() {
        return schedule.lr();
    }

    public double weightDecay() {
        return adamw.weightDecay();
    }

    /** The same run with another number of steps (the cosine schedule is stretched to match). */
    public RunConfig withSteps(int newSteps) {
        LrSchedule s = new LrSchedule(schedule.kind(), schedule.lr(), schedule.warmup(), schedule.minLr(), newSteps);
        return new RunConfig(file, name, model, backend, task, batch, seqLen, newSteps, s, adamw, gradClip, seed,
                checkpointEvery, keepCheckpoints, data, recompute, mpi, paramCheckEvery, bucketMb, dtype);
    }

    /** The same run with another data spec (e.g. with the data file's content hash recorded). */
    public RunConfig withData(DataSpec d) {
        return new RunConfig(file, name, model, backend, task, batch, seqLen, steps, schedule, adamw, gradClip, seed,
                checkpointEvery, keepCheckpoints, d, recompute, mpi, paramCheckEvery, bucketMb, dtype);
    }

    /** The same run in another precision. */
    public RunConfig withDtype(Precision p) {
        return new RunConfig(file, name, model, backend, task, batch, seqLen, steps, schedule, adamw, gradClip, seed,
                checkpointEvery, keepCheckpoints, data, recompute, mpi, paramCheckEvery, bucketMb, p);
    }

    /** The same run on another backend spec. */
    public RunConfig withBackend(String spec) {
        return new RunConfig(file, name, model, spec, task, batch, seqLen, steps, schedule, adamw, gradClip, seed,
                checkpointEvery, keepCheckpoints, data, recompute, mpi, paramCheckEvery, bucketMb, dtype);
    }

    /** Opens this run's data source at position 0. */
    public DataSource openData() {
        return openData(batch);
    }

    /** Opens this run's data source at position 0 for batches of {@code globalBatch} sequences (data parallel). */
    public DataSource openData(int globalBatch) {
        return data.open(model.config().vocabSize(), globalBatch, seqLen, seed);
    }

    /**
     * Every field, resolved: the model as an inline model config, paths absolute. Loading the result gives the same
     * run from any folder (resume reads it back from the run's {@code run.json}).
     */
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("name", name);
        o.set("model", ModelConfigs.toJson(model.config()));
        if (model.pretrained()) {
            o.put("weights", model.weightsPath().toAbsolutePath().toString());
        }
        o.put("backend", backend);
        o.put("task", task.id());
        o.put("batch", batch);
        o.put("seq_len", seqLen);
        o.put("steps", steps);
        o.put("lr", schedule.lr());
        o.put("lr_schedule", schedule.kind().name().toLowerCase(Locale.ROOT));
        o.put("warmup_steps", schedule.warmup());
        o.put("min_lr", schedule.minLr());
        o.put("weight_decay", adamw.weightDecay());
        o.put("beta1", adamw.beta1());
        o.put("beta2", adamw.beta2());
        o.put("adam_eps", adamw.eps());
        o.put("grad_clip", gradClip);
        o.put("seed", seed);
        o.put("checkpoint_every", checkpointEvery);
        o.put("keep_checkpoints", keepCheckpoints);
        o.set("data", data.toJson());
        o.put("recompute", recompute);
        o.put("mpi", mpi);
        o.put("param_check_every", paramCheckEvery);
        o.put("allreduce_bucket_mb", bucketMb);
        o.put("dtype", dtype.id());
        return o;
    }
}
