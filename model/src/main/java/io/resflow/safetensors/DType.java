package io.resflow.safetensors;

/**
 * The element types a safetensors header may name, with their sizes in bytes. Every type here is accepted when a
 * file is opened (so a file holding, say, a U8 buffer can still be read for its other tensors); converting a
 * tensor to a Java array supports only the types listed on each {@link SafeTensorsFile} accessor.
 */
public enum DType {
    BOOL(1), U8(1), I8(1), F8_E4M3(1), F8_E5M2(1),
    I16(2), U16(2), F16(2), BF16(2),
    I32(4), U32(4), F32(4),
    I64(8), U64(8), F64(8);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /** The type a header names, or null when the name is not a known safetensors dtype (names are case-sensitive). */
    public static DType parse(String name) {
        for (DType t : values()) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        return null;
    }
}
