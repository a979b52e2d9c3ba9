package io.resflow.data;

import io.resflow.model.BadInputException;
import io.resflow.model.IoErrors;
import io.resflow.model.RuntimeFailure;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Token data on disk. The token file format is llm.c's {@code .bin}: a header of 256 little-endian int32 (magic
 * 20240520, version 1, token count, the rest unused), then the tokens as little-endian uint16. A text file is
 * tokenized whole by its tokenizer (bytes: its UTF-8 bytes, ids 0..255; see {@code io.resflow.text}). Every id is checked against the vocabulary when the file is opened, and
 * the file's SHA-256 is computed (a resumed run checks that its data did not change). Only regular files are read (a
 * FIFO or a device such as /dev/zero is refused before it is opened).
 */
public final class TokenFiles {
    public static final int MAGIC = 20240520;
    static final int VERSION = 1;
    static final int HEADER_INTS = 256;
    static final long HEADER_BYTES = HEADER_INTS * 4L;
    /** The largest token file: the header and 2^32 - 1 tokens (the header's count is an unsigned int32). */
    static final long MAX_BIN_BYTES = HEADER_BYTES + 2 * 0xFFFF_FFFFL;
    /** The largest text file: one Java array of bytes. */
    public static final long MAX_TEXT_BYTES = Integer.MAX_VALUE - 8;

    private static final ValueLayout.OfShort U16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private TokenFiles() {
    }

    /** Opens a {@code .bin} token file as a stream of batches. The mapping lives until the JVM collects it. */
    public static TokenStream openBin(Path file, int vocab, int batch, int seqLen) {
        IoErrors.requireRegularFile(file, "a token file", MAX_BIN_BYTES);
        MemorySegment seg;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            seg = ch.size() == 0 ? MemorySegment.ofArray(new byte[0])
                    : ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), Arena.ofAuto());
        } catch (IOException e) {
            throw bad(file, "cannot read: " + IoErrors.describe(e));
        }
        return fromBin(file, seg, vocab, batch, seqLen);
    }

    /** A token file's content (a mapping, or bytes in memory for tests and fuzzing); {@code file} names it. */
    static TokenStream fromBin(Path file, MemorySegment seg, int vocab, int batch, int seqLen) {
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
        return new TokenStream(file.toString(), "token file", count,
                i -> Short.toUnsignedInt(tokens.getAtIndex(U16_LE, i)), batch, seqLen, sha256(seg));
    }

    /** Opens a UTF-8 text file, one token per byte. */
    static TokenStream openText(Path file, int vocab, int batch, int seqLen) {
        IoErrors.requireRegularFile(file, "a text file", MAX_TEXT_BYTES);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw bad(file, "cannot read: " + IoErrors.describe(e));
        }
        return fromText(file, bytes, vocab, batch, seqLen);
    }

    /** A text file's content; {@code file} names it. */
    static TokenStream fromText(Path file, byte[] bytes, int vocab, int batch, int seqLen) {
        long bad = firstInvalidUtf8(bytes);
        if (bad >= 0) {
            throw bad(file, String.format("not valid UTF-8: byte 0x%02x at offset %d is not part of a UTF-8 character",
                    bytes[(int) bad] & 0xff, bad));
        }
        for (int i = 0; i < bytes.length; i++) {
            int id = Byte.toUnsignedInt(bytes[i]);
            if (id >= vocab) {
                throw bad(file, "byte token " + id + " at offset " + i + " is out of range for vocab_size " + vocab
                        + " (text is tokenized as bytes; use vocab_size >= 256)");
            }
        }
        return new TokenStream(file.toString(), "text file", bytes.length, i -> Byte.toUnsignedInt(bytes[(int) i]),
                batch, seqLen, sha256(MemorySegment.ofArray(bytes)));
    }

    /** The offset of the first byte that is not part of a valid UTF-8 sequence, or -1. */
    static long firstInvalidUtf8(byte[] bytes) {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(8192);
        while (true) {
            CoderResult r = d.decode(in, out, true);
            if (r.isError()) {
                return in.position();
            }
            if (r.isOverflow()) {
                out.clear();
                continue;
            }
            r = d.flush(out);
            if (r.isOverflow()) {
                out.clear();
                continue;
            }
            return -1;
        }
    }

    /** SHA-256 of a file's content, as 64 lowercase hex digits. */
    static String sha256(MemorySegment seg) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JDK has it
        }
        long chunk = 64 << 20;
        for (long off = 0; off < seg.byteSize(); off += chunk) {
            md.update(seg.asSlice(off, Math.min(chunk, seg.byteSize() - off)).asByteBuffer());
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** Writes a {@code .bin} token file (tests and tools). */
    public static void writeBin(Path file, int[] tokens) {
        byte[] bytes = binBytes(file, tokens);
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw new RuntimeFailure(file + ": cannot write: " + IoErrors.describe(e), e);
        }
    }

    /** Writes a {@code .bin} token file atomically (a temporary file renamed into place); ids must fit uint16. */
    public static void writeBinAtomically(Path file, int[] tokens) {
        io.resflow.safetensors.SafeTensorsWriter.writeAtomically(file, binBytes(file, tokens));
    }

    /** The bytes of a token file: the 256-int32 header (magic, version, count), then the ids as uint16. */
    private static byte[] binBytes(Path file, int[] tokens) {
        long bytes = HEADER_BYTES + 2L * tokens.length;
        if (bytes > Integer.MAX_VALUE - 8) {
            throw new BadInputException(file + ": " + tokens.length + " tokens do not fit one token file of this tool");
        }
        ByteBuffer b = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(VERSION).putInt(tokens.length);
        b.position((int) HEADER_BYTES);
        for (int t : tokens) {
            if (t < 0 || t > 0xFFFF) {
                throw new IllegalArgumentException("token " + t + " does not fit uint16");
            }
            b.putShort((short) t);
        }
        return b.array();
    }

    /**
     * Opens a UTF-8 text file encoded by a tokenizer; every id is checked against the model's vocabulary. The bytes
     * tokenizer gives the same stream (and messages) as {@link #openText(Path, int, int, int)}.
     */
    static TokenStream openText(Path file, io.resflow.text.Tokenizer tok, int vocab, int batch, int seqLen) {
        if (tok instanceof io.resflow.text.ByteTokenizer) {
            return openText(file, vocab, batch, seqLen);
        }
        String text = readText(file);
        int[] ids = tok.encode(text);
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] >= vocab) {
                throw bad(file, "token id " + ids[i] + " at index " + i + " (tokenizer " + tok.name()
                        + ") is out of range for the model's vocab_size " + vocab);
            }
        }
        return new TokenStream(file.toString(), "text file (tokenizer " + tok.name() + ")", ids.length, i -> ids[(int) i],
                batch, seqLen, sha256(MemorySegment.ofArray(text.getBytes(java.nio.charset.StandardCharsets.UTF_8))));
    }

    private static BadInputException bad(Path file, String message) {
        return new BadInputException(file + ": " + message);
    }

    /** A UTF-8 text file's content; not UTF-8, not a regular file or too large is bad input naming it. */
    public static String readText(Path file) {
        IoErrors.requireRegularFile(file, "a text file", TokenFiles.MAX_TEXT_BYTES);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read: " + IoErrors.describe(e), e);
        }
        long bad = TokenFiles.firstInvalidUtf8(bytes);
        if (bad >= 0) {
            throw new BadInputException(file + ": " + String.format(
                    "not valid UTF-8: byte 0x%02x at offset %d is not part of a UTF-8 character", bytes[(int) bad] & 0xff, bad));
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
