package io.resflow.safetensors;

import io.resflow.engine.TestInputs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.model.BadInputException;
import io.resflow.model.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {

    @TempDir
    Path dir;


    /** A file from a JSON header (padded as given) and raw data bytes. */
    private Path raw(String name, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
        out.write(h);
        out.write(data);
        Path f = dir.resolve(name);
        Files.write(f, out.toByteArray());
        return f;
    }

    private static byte[] shortsLe(short... v) {
        ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (short s : v) {
            b.putShort(s);
        }
        return b.array();
    }

    private static BadInputException failsToOpen(Path f, String... fragments) {
        BadInputException e = assertThrows(BadInputException.class, () -> SafeTensorsFile.open(f).close());
        assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
        for (String frag : fragments) {
            assertTrue(e.getMessage().contains(frag), "'" + frag + "' not in: " + e.getMessage());
        }
        return e;
    }

    @Test
    void roundTrip() throws IOException {
        Path f = dir.resolve("sub/rt.safetensors");
        Tensor a = new Tensor("a", new int[] {2, 3}, new float[] {1, -2, 3.5f, Float.MIN_VALUE, Float.MAX_VALUE, -0f});
        Tensor b = new Tensor("b.weight", new int[] {1}, new float[] {42});
        Tensor s = new Tensor("scalar", new int[] {}, new float[] {7});
        SafeTensorsWriter.write(f, List.of(a, b, s), Map.of("format", "pt"));
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertEquals(List.of("a", "b.weight", "scalar"), List.copyOf(st.names()));
            assertEquals(Map.of("format", "pt"), st.metadata());
            assertArrayEquals(a.data(), st.floats("a"));
            assertArrayEquals(new int[] {2, 3}, st.info("a").shape());
            assertEquals(DType.F32, st.info("a").dtype());
            assertArrayEquals(b.data(), st.floats("b.weight"));
            assertArrayEquals(new int[] {}, st.info("scalar").shape());
            assertArrayEquals(new float[] {7}, st.floats("scalar"));
            assertArrayEquals(new double[] {1, -2, 3.5, Float.MIN_VALUE, Float.MAX_VALUE, -0.0}, st.doubles("a"));
            assertEquals(24, st.segment("a").byteSize());
        }
        // header is padded to 8 bytes and no temp file is left behind
        byte[] bytes = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8);
        try (var files = Files.list(f.getParent())) {
            assertEquals(List.of(f), files.toList());
        }
    }

    @Test
    void roundTripMixedTypesAndOverwrite() throws IOException {
        Path f = dir.resolve("m.safetensors");
        SafeTensorsWriter.write(f, List.of(new Tensor("old", new int[] {1}, new float[] {1})), null);
        SafeTensorsWriter.writeEntries(f, List.of(
                new SafeTensorsWriter.I32("ids", new int[] {2, 2}, new int[] {0, -1, Integer.MAX_VALUE, 255}),
                new SafeTensorsWriter.F64("loss", new int[] {1}, new double[] {5.560551166534424}),
                new SafeTensorsWriter.F32("x", new int[] {3}, new float[] {0.5f, 0.25f, 1e-30f}),
                new SafeTensorsWriter.F32("empty", new int[] {0, 4}, new float[0])), Map.of());
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertEquals(List.of("ids", "loss", "x", "empty"), List.copyOf(st.names()));
            assertTrue(st.metadata().isEmpty());
            assertArrayEquals(new int[] {0, -1, Integer.MAX_VALUE, 255}, st.ints("ids"));
            assertArrayEquals(new double[] {5.560551166534424}, st.doubles("loss"));
            assertArrayEquals(new float[] {5.560551166534424f}, st.floats("loss"));
            assertArrayEquals(new float[] {0.5f, 0.25f, 1e-30f}, st.floats("x"));
            assertEquals(0, st.floats("empty").length);
            BadInputException e = assertThrows(BadInputException.class, () -> st.floats("ids"));
            assertTrue(e.getMessage().contains("'ids'") && e.getMessage().contains("I32"), e.getMessage());
            e = assertThrows(BadInputException.class, () -> st.floats("nope"));
            assertTrue(e.getMessage().startsWith(f + ": ") && e.getMessage().contains("'nope'"), e.getMessage());
        }
    }

    @Test
    void writerRejectsDuplicates() {
        Tensor t = new Tensor("a", new int[] {1}, new float[] {1});
        assertThrows(IllegalArgumentException.class, () -> SafeTensorsWriter.write(dir.resolve("d"), List.of(t, t), null));
    }

    @Test
    void readsGpt2TestVectors() {
        try (SafeTensorsFile st = SafeTensorsFile.open(TestInputs.testVectorFolder("gpt2-tiny").resolve("model.safetensors"))) {
            assertEquals("transformer.wte.weight", st.names().iterator().next());
            assertArrayEquals(new int[] {64, 192}, st.info("transformer.h.0.attn.c_attn.weight").shape());
            float[] wte = st.floats("transformer.wte.weight");
            assertEquals(256 * 64, wte.length);
            assertTrue(Arrays.stream(toDoubles(wte)).anyMatch(v -> v != 0));
        }
        try (SafeTensorsFile st = SafeTensorsFile.open(TestInputs.testVectorFolder("gpt2-tiny").resolve("vectors.safetensors"))) {
            assertEquals(DType.I32, st.info("inputs").dtype());
            int[] inputs = st.ints("inputs");
            assertEquals(32, inputs.length);
            assertTrue(Arrays.stream(inputs).allMatch(v -> v >= 0 && v < 256));
            assertEquals(DType.F64, st.info("loss").dtype());
            assertEquals(5.560551166534424, st.doubles("loss")[0], 1e-6);
            assertEquals(5, st.doubles("losses_after_steps").length);
            assertEquals(2 * 16 * 256, st.floats("logits").length);
        }
    }

    @Test
    void readsLlamaTestVectors() {
        try (SafeTensorsFile st = SafeTensorsFile.open(TestInputs.testVectorFolder("llama-tiny").resolve("model.safetensors"))) {
            assertArrayEquals(new int[] {32, 64}, st.info("model.layers.0.self_attn.k_proj.weight").shape());
            assertTrue(st.has("lm_head.weight"));
        }
        try (SafeTensorsFile st = SafeTensorsFile.open(TestInputs.testVectorFolder("llama-tiny").resolve("vectors.safetensors"))) {
            assertEquals(5.555192947387695, st.doubles("loss")[0], 1e-6);
            assertArrayEquals(new int[] {2, 16}, st.info("targets").shape());
        }
    }

    @Test
    void decodesHalfPrecision() throws IOException {
        // F16: 1.0 = 0x3C00, -2.0 = 0xC000, 0.5 = 0x3800, 65504 = 0x7BFF, smallest subnormal = 0x0001
        // BF16: 1.0 = 0x3F80, -2.0 = 0xC000, 3.140625 = 0x4049
        byte[] f16 = shortsLe((short) 0x3C00, (short) 0xC000, (short) 0x3800, (short) 0x7BFF, (short) 0x0001);
        byte[] bf16 = shortsLe((short) 0x3F80, (short) 0xC000, (short) 0x4049);
        byte[] data = new byte[f16.length + bf16.length];
        System.arraycopy(f16, 0, data, 0, f16.length);
        System.arraycopy(bf16, 0, data, f16.length, bf16.length);
        Path f = raw("half.safetensors", """
                {"h": {"dtype": "F16", "shape": [5], "data_offsets": [0, 10]},
                 "b": {"dtype": "BF16", "shape": [3], "data_offsets": [10, 16]}}""", data);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertArrayEquals(new float[] {1f, -2f, 0.5f, 65504f, 5.9604645e-8f}, st.floats("h"));
            assertArrayEquals(new float[] {1f, -2f, 3.140625f}, st.floats("b"));
            assertArrayEquals(new double[] {1, -2, 3.140625}, st.doubles("b"));
        }
    }

    @Test
    void readsI64InRange() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(3).putLong(-4).putLong(1L << 40);
        Path f = raw("i64.safetensors", """
                {"ok": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]},
                 "big": {"dtype": "I64", "shape": [1], "data_offsets": [16, 24]}}""", b.array());
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertArrayEquals(new int[] {3, -4}, st.ints("ok"));
            BadInputException e = assertThrows(BadInputException.class, () -> st.ints("big"));
            assertTrue(e.getMessage().contains("'big'"), e.getMessage());
        }
    }

    @Test
    void truncatedFile() throws IOException {
        Path f = dir.resolve("short.safetensors");
        Files.write(f, new byte[] {1, 2, 3});
        failsToOpen(f, "too short");
        Files.write(f, new byte[0]);
        failsToOpen(f, "too short");
        // data cut off after the header
        Path g = raw("cut.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", new byte[8]);
        failsToOpen(g, "'w'", "out of range");
    }

    @Test
    void headerLengthPastEof() throws IOException {
        Path f = dir.resolve("len.safetensors");
        Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array());
        failsToOpen(f, "header length 1000", "past the end");
        Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1).array());
        failsToOpen(f, "past the end");
    }

    @Test
    void offsetsOutOfRange() throws IOException {
        failsToOpen(raw("o1.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}",
                new byte[8]), "'w'", "out of range");
        failsToOpen(raw("o2.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}",
                new byte[8]), "'w'", "end before");
        failsToOpen(raw("o3.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}",
                new byte[8]), "'w'", "needs 12");
        failsToOpen(raw("o4.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [-8, 0]}}",
                new byte[8]), "'w'");
    }

    @Test
    void overlappingTensors() throws IOException {
        Path f = raw("ov.safetensors", """
                {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
                 "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}""", new byte[16]);
        failsToOpen(f, "'b'", "overlaps", "'a'");
    }

    @Test
    void unsupportedDtype() throws IOException {
        failsToOpen(raw("dt.safetensors", "{\"w\": {\"dtype\": \"Q4_K\", \"shape\": [2], \"data_offsets\": [0, 8]}}",
                new byte[8]), "'w'", "unsupported dtype 'Q4_K'");
    }

    @Test
    void missingEntryFields() throws IOException {
        failsToOpen(raw("m1.safetensors", "{\"w\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", new byte[8]), "'w'", "dtype");
        failsToOpen(raw("m2.safetensors", "{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 8]}}", new byte[8]), "'w'", "shape");
        failsToOpen(raw("m3.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [2]}}", new byte[8]), "'w'", "data_offsets");
        failsToOpen(raw("m4.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [\"2\"], \"data_offsets\": [0, 8]}}",
                new byte[8]), "'w'", "shape");
        failsToOpen(raw("m5.safetensors", "{\"w\": 3}", new byte[0]), "'w'");
    }

    @Test
    void garbageHeader() throws IOException {
        failsToOpen(raw("g1.safetensors", "{\"w\": {\"dtype\": ", new byte[0]), "not valid JSON");
        failsToOpen(raw("g2.safetensors", "[1, 2]", new byte[0]), "not a JSON object");
        Path f = dir.resolve("g3.safetensors");
        byte[] bad = {(byte) 0xC3, (byte) 0x28, ' ', ' '};
        Files.write(f, concat(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(4).array(), bad));
        failsToOpen(f, "UTF-8");
        failsToOpen(raw("g4.safetensors", "{\"__metadata__\": {\"a\": 1}}", new byte[0]), "__metadata__");
    }

    @Test
    void metadataAndSpacePaddingAccepted() throws IOException {
        Path f = raw("p.safetensors", "{\"__metadata__\": {\"format\": \"pt\"}, \"w\": {\"dtype\": \"U8\", \"shape\": [2],"
                + " \"data_offsets\": [0, 2]}}      ", new byte[] {7, (byte) 200});
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertEquals(List.of("w"), List.copyOf(st.names()));
            assertEquals("pt", st.metadata().get("format"));
            assertArrayEquals(new int[] {7, 200}, st.ints("w"));
        }
    }

    @Test
    void missingFile() {
        Path f = dir.resolve("none.safetensors");
        BadInputException e = assertThrows(BadInputException.class, () -> SafeTensorsFile.open(f));
        assertEquals(f + ": file not found", e.getMessage());
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
