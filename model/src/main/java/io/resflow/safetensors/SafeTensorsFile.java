package io.resflow.safetensors;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.resflow.model.BadInputException;
import io.resflow.model.IoErrors;
import io.resflow.model.JsonErrors;
import io.resflow.model.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A safetensors file opened for reading: the header is parsed and validated up front, the tensor data stays in a
 * memory mapping (so files larger than the heap, and over 2 GiB, work) and is copied into Java arrays only when a
 * tensor is asked for.
 *
 * <p>Format: an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON mapping each tensor name to
 * {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets relative to the byte after the header), an
 * optional {@code "__metadata__"} object of string values, then the data, little-endian.
 *
 * <p>Every problem with the file is reported as a {@link BadInputException} whose message starts with the file's
 * path and names the tensor concerned. Not thread-safe to close while another thread reads; reading from several
 * threads at once is fine.
 */
public final class SafeTensorsFile implements AutoCloseable {

    /** Largest header accepted (the reference implementation's limit). */
    static final long MAX_HEADER_BYTES = 100L << 20;

    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;
    private boolean closed;

    private SafeTensorsFile(Path path, Arena arena, MemorySegment data, Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /**
     * Maps and validates a file. The caller must {@link #close()} it (try-with-resources) to release the mapping.
     *
     * @throws BadInputException if the file is missing, unreadable or not a valid safetensors file
     */
    public static SafeTensorsFile open(Path path) {
        IoErrors.requireRegularFile(path, "a safetensors file", Long.MAX_VALUE);
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment file = size == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return parse(path, arena, file, size);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new BadInputException(path + ": file not found", e);
        } catch (IOException e) {
            arena.close();
            throw new BadInputException(path + ": cannot read: " + IoErrors.describe(e), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Parses and validates safetensors content held in memory ({@code name} stands for the file in messages): the
     * same checks as {@link #open}, for tests and fuzzing. Closing it releases nothing.
     */
    public static SafeTensorsFile of(Path name, byte[] bytes) {
        return parse(name, Arena.ofShared(), MemorySegment.ofArray(bytes), bytes.length);
    }

    private static SafeTensorsFile parse(Path path, Arena arena, MemorySegment file, long size) {
        if (size < 8) {
            throw bad(path, "file is " + size + " bytes long, too short for a safetensors header (8 bytes at least)");
        }
        long headerLen = file.get(I64_LE, 0);
        if (headerLen < 0 || headerLen > size - 8) {
            throw bad(path, "header length " + Long.toUnsignedString(headerLen) + " runs past the end of the file ("
                    + size + " bytes); the file is truncated or not a safetensors file");
        }
        if (headerLen > MAX_HEADER_BYTES) {
            throw bad(path, "header of " + headerLen + " bytes exceeds the limit of " + MAX_HEADER_BYTES);
        }
        byte[] header = file.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
        MemorySegment data = file.asSlice(8 + headerLen);
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        parseHeader(path, header, data.byteSize(), tensors, metadata);
        return new SafeTensorsFile(path, arena, data, tensors, metadata);
    }

    private static void parseHeader(Path path, byte[] header, long dataSize, Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(header))
                    .toString();
        } catch (CharacterCodingException e) {
            throw bad(path, "header is not valid UTF-8");
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JacksonException e) {
            throw bad(path, "header is not valid JSON" + JsonErrors.at(e) + ": " + JsonErrors.what(e));
        }
        if (root == null || !root.isObject()) {
            throw bad(path, "header is not a JSON object");
        }
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String name = e.getKey();
            JsonNode node = e.getValue();
            if (name.equals("__metadata__")) {
                parseMetadata(path, node, metadata);
            } else {
                tensors.put(name, parseEntry(path, name, node, dataSize));
            }
        }
        checkOverlaps(path, tensors.values());
    }

    private static void parseMetadata(Path path, JsonNode node, Map<String, String> metadata) {
        if (node.isNull()) {
            return;
        }
        if (!node.isObject()) {
            throw bad(path, "__metadata__ is not a JSON object");
        }
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw bad(path, "__metadata__ entry '" + e.getKey() + "' is not a string");
            }
            metadata.put(e.getKey(), e.getValue().textValue());
        }
    }

    private static TensorInfo parseEntry(Path path, String name, JsonNode node, long dataSize) {
        if (!node.isObject()) {
            throw badTensor(path, name, "header entry is not a JSON object");
        }
        JsonNode dtypeNode = node.get("dtype");
        JsonNode shapeNode = node.get("shape");
        JsonNode offsetsNode = node.get("data_offsets");
        if (dtypeNode == null) {
            throw badTensor(path, name, "missing 'dtype'");
        }
        if (shapeNode == null) {
            throw badTensor(path, name, "missing 'shape'");
        }
        if (offsetsNode == null) {
            throw badTensor(path, name, "missing 'data_offsets'");
        }
        if (!dtypeNode.isTextual()) {
            throw badTensor(path, name, "'dtype' is not a string: " + dtypeNode);
        }
        DType dtype = DType.parse(dtypeNode.textValue());
        if (dtype == null) {
            throw badTensor(path, name, "unsupported dtype '" + dtypeNode.textValue() + "'");
        }
        if (!shapeNode.isArray()) {
            throw badTensor(path, name, "'shape' is not an array: " + shapeNode);
        }
        int[] shape = new int[shapeNode.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToInt() || d.intValue() < 0) {
                throw badTensor(path, name, "'shape' entry " + i + " is not a non-negative integer: " + d);
            }
            shape[i] = d.intValue();
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException overflow) {
                throw badTensor(path, name, "shape " + shapeNode + " has too many elements");
            }
        }
        if (!offsetsNode.isArray() || offsetsNode.size() != 2) {
            throw badTensor(path, name, "'data_offsets' is not an array of two integers: " + offsetsNode);
        }
        long[] off = new long[2];
        for (int i = 0; i < 2; i++) {
            JsonNode o = offsetsNode.get(i);
            if (!o.isIntegralNumber() || !o.canConvertToLong() || o.longValue() < 0) {
                throw badTensor(path, name, "'data_offsets' " + offsetsNode + " are not non-negative integers");
            }
            off[i] = o.longValue();
        }
        long begin = off[0];
        long end = off[1];
        if (end < begin) {
            throw badTensor(path, name, "data_offsets [" + begin + ", " + end + "] end before they begin");
        }
        if (end > dataSize) {
            throw badTensor(path, name, "data_offsets [" + begin + ", " + end + "] are out of range: the data section has "
                    + dataSize + " bytes (file truncated?)");
        }
        long expected;
        try {
            expected = Math.multiplyExact(numel, dtype.bytes());
        } catch (ArithmeticException overflow) {
            throw badTensor(path, name, "shape " + shapeNode + " is too large");
        }
        if (end - begin != expected) {
            throw badTensor(path, name, "data_offsets [" + begin + ", " + end + "] span " + (end - begin) + " bytes but "
                    + dtype + " " + shapeNode + " needs " + expected);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static void checkOverlaps(Path path, Iterable<TensorInfo> infos) {
        List<TensorInfo> sorted = new ArrayList<>();
        infos.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        TensorInfo reach = null; // the tensor reaching furthest so far
        for (TensorInfo t : sorted) {
            if (reach != null && t.begin() < reach.end() && t.byteSize() > 0) {
                throw badTensor(path, t.name(), "data [" + t.begin() + ", " + t.end() + ") overlaps tensor '" + reach.name()
                        + "' [" + reach.begin() + ", " + reach.end() + ")");
            }
            if (reach == null || t.end() > reach.end()) {
                reach = t;
            }
        }
    }

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    /** Tensor names, in header order. */
    public Set<String> names() {
        return tensors.keySet();
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /**
     * A tensor's header entry.
     *
     * @throws BadInputException if the file has no such tensor
     */
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw bad(path, "no tensor named '" + name + "'");
        }
        return t;
    }

    /** All header entries, in header order. */
    public List<TensorInfo> infos() {
        return List.copyOf(tensors.values());
    }

    /** The {@code __metadata__} strings (empty when the file has none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** A read-only view of a tensor's raw little-endian bytes, valid until {@link #close()}; nothing is copied. */
    public MemorySegment segment(String name) {
        TensorInfo t = info(name);
        return data.asSlice(t.begin(), t.byteSize()).asReadOnly();
    }

    /** A tensor as float32 values: F32, F16, BF16 and F64 (rounded) are supported. */
    public float[] floats(String name) {
        TensorInfo t = info(name);
        MemorySegment s = data.asSlice(t.begin(), t.byteSize());
        int n = arrayLength(t);
        float[] out = new float[n];
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(s, F32_LE, 0, out, 0, n);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.float16ToFloat(s.getAtIndex(I16_LE, i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = bf16ToFloat(s.getAtIndex(I16_LE, i));
                }
            }
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) s.getAtIndex(F64_LE, i);
                }
            }
            default -> throw unsupported(t, "float", "F32, F16, BF16, F64");
        }
        return out;
    }

    /** A tensor as float64 values: F64, F32, F16 and BF16 are supported. */
    public double[] doubles(String name) {
        TensorInfo t = info(name);
        int n = arrayLength(t);
        double[] out = new double[n];
        switch (t.dtype()) {
            case F64 -> MemorySegment.copy(data.asSlice(t.begin(), t.byteSize()), F64_LE, 0, out, 0, n);
            case F32, F16, BF16 -> {
                float[] f = floats(name);
                for (int i = 0; i < n; i++) {
                    out[i] = f[i];
                }
            }
            default -> throw unsupported(t, "double", "F64, F32, F16, BF16");
        }
        return out;
    }

    /** A tensor as int32 values: I32, I64 (every value must fit an int), I16, U16, I8, U8 and BOOL are supported. */
    public int[] ints(String name) {
        TensorInfo t = info(name);
        MemorySegment s = data.asSlice(t.begin(), t.byteSize());
        int n = arrayLength(t);
        int[] out = new int[n];
        switch (t.dtype()) {
            case I32 -> MemorySegment.copy(s, I32_LE, 0, out, 0, n);
            case I64 -> {
                for (int i = 0; i < n; i++) {
                    long v = s.getAtIndex(I64_LE, i);
                    if (v != (int) v) {
                        throw badTensor(path, name, "I64 value " + v + " at index " + i + " does not fit a 32-bit int");
                    }
                    out[i] = (int) v;
                }
            }
            case I16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = s.getAtIndex(I16_LE, i);
                }
            }
            case U16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Short.toUnsignedInt(s.getAtIndex(I16_LE, i));
                }
            }
            case I8 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = s.get(ValueLayout.JAVA_BYTE, i);
                }
            }
            case U8, BOOL -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, i));
                }
            }
            default -> throw unsupported(t, "int", "I32, I64, I16, U16, I8, U8, BOOL");
        }
        return out;
    }

    /** A float tensor (see {@link #floats}) as a {@link Tensor} with the given name. */
    public Tensor tensor(String name, String as) {
        return new Tensor(as, info(name).shape().clone(), floats(name));
    }

    /** A float tensor (see {@link #floats}) as a {@link Tensor} under its own name. */
    public Tensor tensor(String name) {
        return tensor(name, name);
    }

    /** Releases the mapping. Arrays returned earlier stay valid; segments from {@link #segment} do not. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }

    static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    private int arrayLength(TensorInfo t) {
        long n = t.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw badTensor(path, t.name(), n + " elements do not fit in a Java array; use segment()");
        }
        return (int) n;
    }

    private BadInputException unsupported(TensorInfo t, String target, String supported) {
        return badTensor(path, t.name(), "dtype " + t.dtype() + " cannot be read as " + target + " (supported: " + supported + ")");
    }

    private static BadInputException bad(Path path, String message) {
        return new BadInputException(path + ": " + message);
    }

    private static BadInputException badTensor(Path path, String tensor, String message) {
        return new BadInputException(path + ": tensor '" + tensor + "': " + message);
    }
}
