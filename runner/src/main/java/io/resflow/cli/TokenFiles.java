package io.resflow.cli;

import io.resflow.model.BadInputException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Token data on disk. The token file format is llm.c's {@code .bin}: a header of 256 little-endian int32 (magic
 * 20240520, version 1, token count, the rest unused), then the tokens as little-endian uint16. A text file is
 * tokenized as its UTF-8 bytes (ids 0..255). Every id is checked against the vocabulary when the file is opened.
 */
final class TokenFiles {
    static final int MAGIC = 20240520;
    static final int VERSION = 1;
    static final int HEADER_INTS = 256;
    static final long HEADER_BYTES = HEADER_INTS * 4L;

    private static final ValueLayout.OfShort U16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private TokenFiles() {
    }

    /** Opens a {@code .bin} token file as a stream of batches. The mapping lives until the JVM collects it. */
    static TokenStream openBin(Path file, int vocab, int batch, int seqLen) {
        MemorySegment seg = map(file);
        long size = seg.byteSize();
        if (size < HEADER_BYTES) {
            throw bad(file, "file is " + size + " bytes, shorter than the token file header (" + HEADER_BYTES
                    + " bytes: 256 int32)");
        }
        int magic = seg.get(I32_LE, 0);
        if (magic != MAGIC) {
            throw bad(file, "bad magic number " + magic + " in the header (a token file starts with " + MAGIC + ")");
        }
        int version = seg.get(I32_LE, 4);
        if (version != VERSION) {
            throw bad(file, "unsupported token file version " + version + " (supported: " + VERSION + ")");
        }
        long count = Integer.toUnsignedLong(seg.get(I32_LE, 8));
        long expected = HEADER_BYTES + 2 * count;
        if (size < expected) {
            throw bad(file, "truncated: the header says " + count + " tokens (" + expected + " bytes) but the file has "
                    + size + " bytes");
        }
        if (size > expected) {
            throw bad(file, "the header says " + count + " tokens (" + expected + " bytes) but the file has " + size
                    + " bytes (" + (size - expected) + " trailing bytes)");
        }
        MemorySegment tokens = seg.asSlice(HEADER_BYTES);
        for (long i = 0; i < count; i++) {
            int id = Short.toUnsignedInt(tokens.getAtIndex(U16_LE, i));
            if (id >= vocab) {
                throw bad(file, "token id " + id + " at index " + i + " is out of range for vocab_size " + vocab);
            }
        }
        return new TokenStream("token file " + file, count, i -> Short.toUnsignedInt(tokens.getAtIndex(U16_LE, i)),
                batch, seqLen);
    }

    /** Opens a UTF-8 text file, one token per byte. */
    static TokenStream openText(Path file, int vocab, int batch, int seqLen) {
        byte[] bytes = readAll(file);
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes));
        } catch (MalformedInputException e) {
            throw bad(file, "not valid UTF-8 (" + e.getMessage() + ")");
        } catch (CharacterCodingException e) {
            throw bad(file, "not valid UTF-8: " + e.getMessage());
        }
        for (int i = 0; i < bytes.length; i++) {
            int id = Byte.toUnsignedInt(bytes[i]);
            if (id >= vocab) {
                throw bad(file, "byte token " + id + " at offset " + i + " is out of range for vocab_size " + vocab
                        + " (text is tokenized as bytes; use vocab_size >= 256)");
            }
        }
        return new TokenStream("text file " + file, bytes.length, i -> Byte.toUnsignedInt(bytes[(int) i]), batch,
                seqLen);
    }

    /** Writes a {@code .bin} token file (tests and tools). */
    static void writeBin(Path file, int[] tokens) {
        ByteBuffer b = ByteBuffer.allocate((int) HEADER_BYTES + 2 * tokens.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(VERSION).putInt(tokens.length);
        b.position((int) HEADER_BYTES);
        for (int t : tokens) {
            if (t < 0 || t > 0xFFFF) {
                throw new IllegalArgumentException("token " + t + " does not fit uint16");
            }
            b.putShort((short) t);
        }
        try {
            Files.write(file, b.array());
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot write: " + e.getMessage(), e);
        }
    }

    private static MemorySegment map(Path file) {
        if (Files.isDirectory(file)) {
            throw bad(file, "is a directory, not a token file");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), Arena.ofAuto());
        } catch (NoSuchFileException e) {
            throw bad(file, "file not found");
        } catch (AccessDeniedException e) {
            throw bad(file, "permission denied");
        } catch (IOException e) {
            throw bad(file, "cannot read: " + e.getMessage());
        }
    }

    private static byte[] readAll(Path file) {
        if (Files.isDirectory(file)) {
            throw bad(file, "is a directory, not a text file");
        }
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw bad(file, "file not found");
        } catch (AccessDeniedException e) {
            throw bad(file, "permission denied");
        } catch (IOException | OutOfMemoryError e) {
            throw bad(file, "cannot read: " + e.getMessage());
        }
    }

    private static BadInputException bad(Path file, String message) {
        return new BadInputException(file + ": " + message);
    }
}
