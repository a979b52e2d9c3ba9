package io.resflow.train;

import io.resflow.out.Json;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resflow.engine.OptimizerState;
import io.resflow.engine.Session;
import io.resflow.model.BadInputException;
import io.resflow.model.IoErrors;
import io.resflow.model.ModelConfig;
import io.resflow.model.ParamLayout;
import io.resflow.model.ParamSpec;
import io.resflow.model.Params;
import io.resflow.model.Tensor;
import io.resflow.safetensors.SafeTensorsFile;
import io.resflow.safetensors.SafeTensorsWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * Training checkpoints of a run folder: {@code checkpoints/ckpt-<step>.safetensors} holds the parameters under their
 * internal names, the AdamW moments as {@code m.<name>} and {@code v.<name>}, and in its metadata the step, the
 * optimizer's step count, the data position, the backend and the run config. Next to each,
 * {@code ckpt-<step>.safetensors.sum} records the size and CRC32C of the bytes written.
 *
 * <p>Each checkpoint is written to a temporary file and forced to disk; then its checksum file is written, then the
 * checkpoint is renamed into place, then the pointer {@code checkpoints/latest} (the file name) is replaced, and only
 * then are checkpoints beyond the newest {@code keep} deleted. A resume takes the newest checkpoint whose size and
 * checksum match ({@link #selectForResume}) and names every newer one it skipped and why, so a checkpoint truncated
 * or damaged later (a full disk, a copy cut short) never blocks a resume when an intact older one is there.
 */
public final class Checkpoints {
    public static final String FORMAT = "resflow-checkpoint-1";
    public static final String DIR = "checkpoints";
    static final String LATEST = "latest";
    static final String SUM = ".sum";
    private static final Pattern FILE = Pattern.compile("ckpt-(\\d+)\\.safetensors");
    private static final int CHUNK = 8 << 20;

    private Checkpoints() {
    }

    /** A loaded checkpoint. */
    public record Checkpoint(Path file, int step, long dataPosition, Params params, OptimizerState optimizer,
            Map<String, String> metadata) {
    }

    /** The checkpoint a resume starts from, and the newer ones skipped (each with why). */
    public record Selection(Path file, List<String> skipped) {
    }

    public static Path dir(Path runDir) {
        return runDir.resolve(DIR);
    }

    static String fileName(int step) {
        return String.format("ckpt-%08d.safetensors", step);
    }

    static Path sumFile(Path checkpoint) {
        return checkpoint.resolveSibling(checkpoint.getFileName() + SUM);
    }

    /** Saves the session's parameters and AdamW state after {@code step}, then moves {@code latest} to it. */
    public static Path save(Path runDir, int step, Session s, long dataPosition, Map<String, String> extraMetadata,
            int keep) {
        Path dir = dir(runDir);
        Path file = dir.resolve(fileName(step));
        OptimizerState opt = s.optimizerState();
        List<SafeTensorsWriter.Entry> tensors = new ArrayList<>();
        for (Tensor t : s.params().tensors()) {
            tensors.add(SafeTensorsWriter.F32.of(t));
        }
        for (Tensor t : opt.m().tensors()) {
            tensors.add(new SafeTensorsWriter.F32("m." + t.name(), t.shape(), t.data()));
        }
        for (Tensor t : opt.v().tensors()) {
            tensors.add(new SafeTensorsWriter.F32("v." + t.name(), t.shape(), t.data()));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("step", Integer.toString(step));
        meta.put("optimizer_step", Integer.toString(opt.step()));
        meta.put("data_position", Long.toString(dataPosition));
        meta.putAll(extraMetadata);
        SafeTensorsWriter.writeEntries(file, tensors, meta, w -> writeSum(file, w));
        SafeTensorsWriter.writeAtomically(dir.resolve(LATEST), (file.getFileName() + "\n").getBytes(StandardCharsets.UTF_8));
        prune(dir, keep);
        return file;
    }

    /** The checksum file: {@code {"file": ..., "bytes": N, "crc32c": "8 hex digits"}}. */
    static void writeSum(Path checkpoint, SafeTensorsWriter.Written w) {
        ObjectNode o = Json.object();
        o.put("file", checkpoint.getFileName().toString());
        o.put("bytes", w.bytes());
        o.put("crc32c", w.crc32cHex());
        SafeTensorsWriter.writeAtomically(sumFile(checkpoint), (Json.line(o) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** Deletes all but the newest {@code keep} checkpoints, with their checksum files, and checksum files left alone. */
    private static void prune(Path dir, int keep) {
        List<Path> all = list(dir);
        for (int i = 0; i < all.size() - keep; i++) {
            deleteQuietly(all.get(i));
            deleteQuietly(sumFile(all.get(i)));
        }
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (n.endsWith(SUM) && FILE.matcher(n.substring(0, n.length() - SUM.length())).matches()
                        && !Files.exists(p.resolveSibling(n.substring(0, n.length() - SUM.length())))) {
                    deleteQuietly(p);
                }
            }
        } catch (IOException e) {
            // an orphaned checksum file is harmless
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // an old checkpoint that stays is harmless
        }
    }

    /** Checkpoint files of a folder, oldest step first. */
    public static List<Path> list(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> FILE.matcher(p.getFileName().toString()).matches())
                    .sorted(Comparator.comparingLong(Checkpoints::stepOf)).toList();
        } catch (IOException e) {
            throw new BadInputException(dir + ": cannot list: " + IoErrors.describe(e), e);
        }
    }

    public static long stepOf(Path p) {
        Matcher m = FILE.matcher(p.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    /**
     * Why a checkpoint file cannot be trusted, or null when its size and CRC32C are those its checksum file recorded
     * when it was written.
     */
    public static String problem(Path file) {
        Path sum = sumFile(file);
        if (!Files.isRegularFile(sum)) {
            return "no checksum file " + sum.getFileName() + " (it was not written completely)";
        }
        long bytes;
        String crc;
        try {
            JsonNode n = io.resflow.model.ModelConfigs.parseJson(Files.readString(sum, StandardCharsets.UTF_8), sum.toString());
            bytes = n.path("bytes").asLong(-1);
            crc = n.path("crc32c").asText("");
            if (bytes < 0 || !crc.matches("[0-9a-f]{8}")) {
                return "its checksum file " + sum.getFileName() + " is damaged";
            }
        } catch (IOException | BadInputException e) {
            return "its checksum file " + sum.getFileName() + " is damaged or unreadable";
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size != bytes) {
                return String.format("%s: %,d bytes, %,d were written", size < bytes ? "truncated" : "changed", size, bytes);
            }
            CRC32C c = new CRC32C();
            ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
            while (ch.read(buf) > 0 || buf.position() > 0) {
                buf.flip();
                c.update(buf);
                buf.clear();
            }
            String now = String.format("%08x", (int) c.getValue());
            if (!now.equals(crc)) {
                return "checksum mismatch (crc32c " + now + ", " + crc + " was written): the file changed after it was written";
            }
            return null;
        } catch (IOException e) {
            return "cannot read: " + IoErrors.describe(e);
        }
    }

    /**
     * The newest checkpoint that verifies (see {@link #problem}), with the newer ones skipped and why.
     *
     * @param restart what to say when there is none: how to start the run over
     * @throws BadInputException when the folder has no checkpoint that verifies
     */
    public static Selection selectForResume(Path runDir, String restart) {
        List<Path> all = list(dir(runDir));
        List<String> skipped = new ArrayList<>();
        for (int i = all.size() - 1; i >= 0; i--) {
            String why = problem(all.get(i));
            if (why == null) {
                return new Selection(all.get(i), skipped);
            }
            skipped.add(DIR + "/" + all.get(i).getFileName() + ": " + why);
        }
        if (all.isEmpty()) {
            throw new BadInputException(runDir + ": no checkpoint to resume from (the run stopped before its first "
                    + "checkpoint); " + restart);
        }
        throw new BadInputException(runDir + ": no checkpoint verifies (" + String.join("; ", skipped) + "); " + restart);
    }

    /** The newest checkpoint file, or null. */
    public static Path newest(Path runDir) {
        List<Path> all = list(dir(runDir));
        return all.isEmpty() ? null : all.get(all.size() - 1);
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

    /**
     * The parameters of a checkpoint alone (no optimizer moments read), for a model that starts from them: a
     * fine-tuning run, {@code export}, {@code generate}. Checks the format and that the parameters are exactly those of
     * {@code c}'s layout.
     */
    public static Params loadParams(Path file, ModelConfig c) {
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            String format = st.metadata().get("format");
            if (!FORMAT.equals(format)) {
                throw new BadInputException(file + ": not a resflow checkpoint (metadata 'format' is "
                        + (format == null ? "missing" : "'" + format + "'") + ", expected '" + FORMAT + "')");
            }
            ParamLayout layout = ParamLayout.of(c);
            Params p = new Params();
            for (ParamSpec s : layout.specs()) {
                p.put(tensor(st, file, s, "", s.name()));
            }
            for (String n : st.names()) {
                String base = n.startsWith("m.") || n.startsWith("v.") ? n.substring(2) : n;
                if (!layout.has(base)) {
                    throw new BadInputException(file + ": unexpected tensor '" + n + "' (the checkpoint is not of this model)");
                }
            }
            return p;
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
