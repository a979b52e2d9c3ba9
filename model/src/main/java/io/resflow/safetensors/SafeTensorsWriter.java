package io.resflow.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resflow.model.IoErrors;
import io.resflow.model.RuntimeFailure;
import io.resflow.model.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * Writes safetensors files. The header is padded with spaces so that the data starts at an 8-byte boundary; data
 * is little-endian. A file is written to a temporary file in the target directory, forced to disk, and then
 * renamed over the target atomically, so a crash leaves either the old file or the complete new one.
 */
public final class SafeTensorsWriter {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CHUNK_BYTES = 1 << 20;

    private SafeTensorsWriter() {
    }

    /** One tensor to write: its name, shape and data in one of the supported element types. */
    public sealed interface Entry permits F32, F64, I32 {
        String name();

        int[] shape();

        DType dtype();

        /** Number of elements in the data array. */
        int length();
    }

    /** A float32 tensor. */
    public record F32(String name, int[] shape, float[] data) implements Entry {
        public F32 {
            checkShape(name, shape, data.length);
        }

        public static F32 of(Tensor t) {
            return new F32(t.name(), t.shape(), t.data());
        }

        @Override
        public DType dtype() {
            return DType.F32;
        }

        @Override
        public int length() {
            return data.length;
        }
    }

    /** A float64 tensor. */
    public record F64(String name, int[] shape, double[] data) implements Entry {
        public F64 {
            checkShape(name, shape, data.length);
        }

        @Override
        public DType dtype() {
            return DType.F64;
        }

        @Override
        public int length() {
            return data.length;
        }
    }

    /** An int32 tensor. */
    public record I32(String name, int[] shape, int[] data) implements Entry {
        public I32 {
            checkShape(name, shape, data.length);
        }

        @Override
        public DType dtype() {
            return DType.I32;
        }

        @Override
        public int length() {
            return data.length;
        }
    }

    /** What was written: the file's size and the CRC32C of its bytes (as handed to the file system). */
    public record Written(long bytes, int crc32c) {
        /** The checksum as 8 lowercase hex digits. */
        public String crc32cHex() {
            return String.format("%08x", crc32c);
        }
    }

    /** Writes float32 tensors, in list order, with optional {@code __metadata__} (null or empty for none). */
    public static Written write(Path file, List<Tensor> tensors, Map<String, String> metadata) {
        return writeEntries(file, tensors.stream().map(F32::of).toList(), metadata);
    }

    /**
     * Writes tensors of any supported type, in list order, with optional {@code __metadata__} (null or empty for
     * none).
     *
     * @throws IllegalArgumentException if two entries share a name or one is named {@code __metadata__}
     * @throws RuntimeFailure if the file cannot be written (disk full, permission denied): the target is unchanged
     */
    public static Written writeEntries(Path file, List<? extends Entry> entries, Map<String, String> metadata) {
        return writeEntries(file, entries, metadata, w -> { });
    }

    /**
     * As {@link #writeEntries(Path, List, Map)}; {@code beforeRename} runs once the temporary file is complete and
     * forced to disk, before it is renamed into place (e.g. to write a checksum file that must exist whenever the
     * file does).
     */
    public static Written writeEntries(Path file, List<? extends Entry> entries, Map<String, String> metadata,
            Consumer<Written> beforeRename) {
        byte[] header = header(entries, metadata);
        return writeAtomically(file, ch -> {
            ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            MemorySegment seg = MemorySegment.ofBuffer(buf); // the whole buffer, whatever its position later
            buf.putLong(header.length);
            buf.flip();
            ch.write(buf);
            ch.write(ByteBuffer.wrap(header));
            for (Entry e : entries) {
                writeData(ch, buf, seg, e);
            }
        }, beforeRename);
    }

    /** Writes bytes to a file with the same temp-file-and-rename protocol (used for config files next to weights). */
    public static Written writeAtomically(Path file, byte[] bytes) {
        return writeAtomically(file, ch -> ch.write(ByteBuffer.wrap(bytes)), w -> { });
    }

    /** Writes the body of a file into an open channel. */
    @FunctionalInterface
    private interface Body {
        void write(Sink ch) throws IOException;
    }

    /** A channel that writes every buffer fully and keeps the size and CRC32C of what went through it. */
    private static final class Sink {
        private final FileChannel ch;
        private final CRC32C crc = new CRC32C();
        private long bytes;

        Sink(FileChannel ch) {
            this.ch = ch;
        }

        void write(ByteBuffer buf) throws IOException {
            crc.update(buf.duplicate());
            bytes += buf.remaining();
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        }

        Written written() {
            return new Written(bytes, (int) crc.getValue());
        }
    }

    private static Written writeAtomically(Path file, Body body, Consumer<Written> beforeRename) {
        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", TMP_SUFFIX);
            Written w;
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                Sink sink = new Sink(ch);
                body.write(sink);
                ch.force(true);
                w = sink.written();
            }
            // createTempFile makes the file private (0600); a checkpoint or report should read like any other file.
            try {
                Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException e) {
                // not a POSIX file system
            }
            beforeRename.accept(w);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
            return w;
        } catch (IOException e) {
            throw new RuntimeFailure(file + ": cannot write: " + IoErrors.describe(e), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort: the temp file is hidden, never read, and removed by the next run in its folder
                }
            }
        }
    }

    /** Suffix of the temporary files written before a rename ({@code .<name>.<random>.tmp}). */
    public static final String TMP_SUFFIX = ".tmp";

    /** Whether a file name is one of this writer's temporary files (left behind when a process was killed). */
    public static boolean isTemporary(String fileName) {
        return fileName.startsWith(".") && fileName.endsWith(TMP_SUFFIX) && fileName.matches("\\..+\\.\\d+\\.tmp");
    }

    private static byte[] header(List<? extends Entry> entries, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            metadata.forEach((k, v) -> {
                if (k == null || v == null) {
                    throw new IllegalArgumentException("metadata keys and values must not be null: " + k + "=" + v);
                }
                meta.put(k, v);
            });
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (Entry e : entries) {
            if (e.name().equals("__metadata__")) {
                throw new IllegalArgumentException("a tensor cannot be named __metadata__");
            }
            if (!seen.add(e.name())) {
                throw new IllegalArgumentException("duplicate tensor name " + e.name());
            }
            long bytes = (long) e.length() * e.dtype().bytes();
            ObjectNode t = root.putObject(e.name());
            t.put("dtype", e.dtype().name());
            ArrayNode shape = t.putArray("shape");
            for (int d : e.shape()) {
                shape.add(d);
            }
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) & ~7;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private static void writeData(Sink ch, ByteBuffer buf, MemorySegment seg, Entry e) throws IOException {
        int size = e.dtype().bytes();
        int perChunk = CHUNK_BYTES / size;
        for (int from = 0; from < e.length(); from += perChunk) {
            int n = Math.min(perChunk, e.length() - from);
            switch (e) {
                case F32 f -> MemorySegment.copy(f.data(), from, seg, SafeTensorsFile.F32_LE, 0, n);
                case F64 d -> MemorySegment.copy(d.data(), from, seg, SafeTensorsFile.F64_LE, 0, n);
                case I32 i -> MemorySegment.copy(i.data(), from, seg, SafeTensorsFile.I32_LE, 0, n);
            }
            buf.clear().limit(n * size);
            ch.write(buf);
        }
    }

    private static void checkShape(String name, int[] shape, int length) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("tensor name is empty");
        }
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(shape));
            }
            n *= d;
        }
        if (n != length) {
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " needs " + n + " values, got " + length);
        }
    }
}
