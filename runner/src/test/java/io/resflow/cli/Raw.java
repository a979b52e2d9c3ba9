package io.resflow.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Hand-made (broken) safetensors and token files for bad-input tests. */
final class Raw {
    private Raw() {
    }

    /** A safetensors file from a header JSON text and a data section of {@code dataBytes} zero bytes. */
    static Path safetensors(Path file, String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return bytes(file, b.array());
    }

    static Path bytes(Path file, byte[] bytes) {
        try {
            Files.write(file, bytes);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Overwrites the int32 at index {@code i} of an I32 tensor of a safetensors file. */
    static void setInt(Path file, String tensor, int i, int value) {
        try {
            byte[] all = Files.readAllBytes(file);
            ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
            int n = (int) b.getLong(0);
            JsonNode h = Cli.JSON.readTree(new String(all, 8, n, StandardCharsets.UTF_8));
            long begin = h.get(tensor).get("data_offsets").get(0).asLong();
            b.putInt((int) (8 + n + begin + 4L * i), value);
            Files.write(file, all);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Cuts a file down to {@code keep} bytes. */
    static void truncate(Path file, long keep) {
        try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(keep);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A token file with an arbitrary header: magic, version, count, then the given uint16 tokens. */
    static Path tokenFile(Path file, int magic, int version, int count, int... tokens) {
        ByteBuffer b = ByteBuffer.allocate(1024 + 2 * tokens.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(magic).putInt(version).putInt(count);
        b.position(1024);
        for (int t : tokens) {
            b.putShort((short) t);
        }
        return bytes(file, b.array());
    }
}
