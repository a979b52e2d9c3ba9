package io.resflow.cli;

import io.resflow.engine.OptimizerState;
import io.resflow.engine.Session;
import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.model.ParamLayout;
import io.resflow.model.ParamSpec;
import io.resflow.model.Params;
import io.resflow.model.Tensor;
import io.resflow.safetensors.SafeTensorsFile;
import io.resflow.safetensors.SafeTensorsWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Training checkpoints of a run folder: {@code checkpoints/ckpt-<step>.safetensors} holds the parameters under their
 * internal names, the AdamW moments as {@code m.<name>} and {@code v.<name>}, and in its metadata the step, the
 * optimizer's step count, the data position, the backend and the run config. Each file is written to a temporary
 * file and renamed; then the pointer {@code checkpoints/latest} (the file name) is replaced the same way, and only
 * then are checkpoints beyond the newest {@code keep} deleted. A run killed at any moment therefore keeps a complete
 * checkpoint that {@code latest} names.
 */
public final class Checkpoints {
    public static final String FORMAT = "resflow-checkpoint-1";
    static final String DIR = "checkpoints";
    static final String LATEST = "latest";
    private static final Pattern FILE = Pattern.compile("ckpt-(\\d+)\\.safetensors");

    private Checkpoints() {
    }

    /** A loaded checkpoint. */
    public record Checkpoint(Path file, int step, long dataPosition, Params params, OptimizerState optimizer,
            Map<String, String> metadata) {
    }

    public static Path dir(Path runDir) {
        return runDir.resolve(DIR);
    }

    static String fileName(int step) {
        return String.format("ckpt-%08d.safetensors", step);
    }

    /** Saves the session's parameters and AdamW state after {@code step}, then moves {@code latest} to it. */
    public static Path save(Path runDir, int step, Session s, long dataPosition, Map<String, String> extraMetadata,
            int keep) {
        Path dir = dir(runDir);
        Path file = dir.resolve(fileName(step));
        OptimizerState opt = s.optimizerState();
        List<Tensor> tensors = new ArrayList<>();
        for (Tensor t : s.params().tensors()) {
            tensors.add(t);
        }
        for (Tensor t : opt.m().tensors()) {
            tensors.add(new Tensor("m." + t.name(), t.shape(), t.data()));
        }
        for (Tensor t : opt.v().tensors()) {
            tensors.add(new Tensor("v." + t.name(), t.shape(), t.data()));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("step", Integer.toString(step));
        meta.put("optimizer_step", Integer.toString(opt.step()));
        meta.put("data_position", Long.toString(dataPosition));
        meta.putAll(extraMetadata);
        SafeTensorsWriter.write(file, tensors, meta);
        SafeTensorsWriter.writeAtomically(dir.resolve(LATEST), (file.getFileName() + "\n").getBytes(StandardCharsets.UTF_8));
        prune(dir, keep);
        return file;
    }

    /** Deletes all but the newest {@code keep} checkpoints (never the one {@code latest} names). */
    private static void prune(Path dir, int keep) {
        List<Path> all = list(dir);
        String latest = readPointer(dir);
        for (int i = 0; i < all.size() - keep; i++) {
            Path p = all.get(i);
            if (!p.getFileName().toString().equals(latest)) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    // an old checkpoint that stays is harmless
                }
            }
        }
    }

    /** Checkpoint files of a folder, oldest step first. */
    static List<Path> list(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> FILE.matcher(p.getFileName().toString()).matches())
                    .sorted(Comparator.comparingLong(Checkpoints::stepOf)).toList();
        } catch (IOException e) {
            throw new BadInputException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    private static long stepOf(Path p) {
        Matcher m = FILE.matcher(p.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    private static String readPointer(Path dir) {
        try {
            return Files.readString(dir.resolve(LATEST), StandardCharsets.UTF_8).trim();
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new BadInputException(dir.resolve(LATEST) + ": cannot read: " + e.getMessage(), e);
        }
    }

    /**
     * The checkpoint a resume starts from: the one {@code checkpoints/latest} names, or without a pointer the
     * highest-numbered checkpoint file.
     *
     * @throws BadInputException when the folder has no checkpoint or the pointer names a missing file
     */
    public static Path latest(Path runDir) {
        Path dir = dir(runDir);
        String name = readPointer(dir);
        if (name != null) {
            if (!FILE.matcher(name).matches()) {
                throw new BadInputException(dir.resolve(LATEST) + ": does not name a checkpoint file (got '" + name + "')");
            }
            Path f = dir.resolve(name);
            if (!Files.isRegularFile(f)) {
                throw new BadInputException(dir.resolve(LATEST) + ": names " + name + ", which does not exist");
            }
            return f;
        }
        List<Path> all = list(dir);
        if (all.isEmpty()) {
            throw new BadInputException(runDir + ": no checkpoint to resume from (no " + DIR + "/" + LATEST
                    + " and no ckpt-*.safetensors; the run stopped before its first checkpoint)");
        }
        return all.get(all.size() - 1);
    }

    /**
     * Loads a checkpoint, checking its format, metadata, and that its parameters and moments are exactly those of
     * {@code c}'s layout.
     */
    public static Checkpoint load(Path file, ModelConfig c) {
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            Map<String, String> meta = st.metadata();
            String format = meta.get("format");
            if (!FORMAT.equals(format)) {
                throw new BadInputException(file + ": not a resflow checkpoint (metadata 'format' is "
                        + (format == null ? "missing" : "'" + format + "'") + ", expected '" + FORMAT + "')");
            }
            int step = (int) metaLong(file, meta, "step", Integer.MAX_VALUE);
            int optStep = (int) metaLong(file, meta, "optimizer_step", Integer.MAX_VALUE);
            long pos = metaLong(file, meta, "data_position", Long.MAX_VALUE);
            ParamLayout layout = ParamLayout.of(c);
            Params p = new Params();
            Params m = new Params();
            Params v = new Params();
            for (ParamSpec s : layout.specs()) {
                p.put(tensor(st, file, s, "", s.name()));
                m.put(tensor(st, file, s, "m.", s.name()));
                v.put(tensor(st, file, s, "v.", s.name()));
            }
            for (String n : st.names()) {
                String base = n.startsWith("m.") || n.startsWith("v.") ? n.substring(2) : n;
                if (!layout.has(base)) {
                    throw new BadInputException(file + ": unexpected tensor '" + n + "' (the checkpoint is not of this model)");
                }
            }
            return new Checkpoint(file, step, pos, p, new OptimizerState(m, v, optStep), Map.copyOf(meta));
        }
    }

    private static Tensor tensor(SafeTensorsFile st, Path file, ParamSpec s, String prefix, String name) {
        String n = prefix + name;
        if (!st.has(n)) {
            throw new BadInputException(file + ": missing tensor '" + n + "'");
        }
        int[] shape = st.info(n).shape();
        if (!java.util.Arrays.equals(shape, s.shape())) {
            throw new BadInputException(file + ": tensor '" + n + "' has shape " + java.util.Arrays.toString(shape)
                    + " but the model config needs " + java.util.Arrays.toString(s.shape()));
        }
        return st.tensor(n, name);
    }

    private static long metaLong(Path file, Map<String, String> meta, String key, long max) {
        String s = meta.get(key);
        if (s == null) {
            throw new BadInputException(file + ": checkpoint metadata has no '" + key + "'");
        }
        try {
            long v = Long.parseLong(s);
            if (v < 0 || v > max) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new BadInputException(file + ": checkpoint metadata '" + key + "' must be a non-negative integer, got '"
                    + s + "'");
        }
    }
}
