package io.resflow.text;

import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;

/** One token per UTF-8 byte (ids 0..255), no end-of-text token: the tiny configs' tokenizer. */
public final class ByteTokenizer implements Tokenizer {
    public static final String SPEC = "bytes";

    @Override
    public String spec() {
        return SPEC;
    }

    @Override
    public int[] encode(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            ids[i] = Byte.toUnsignedInt(b[i]);
        }
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        byte[] b = new byte[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] > 255) {
                throw new IllegalArgumentException("byte tokenizer: id " + ids[i] + " at index " + i + " is not a byte (0..255)");
            }
            b[i] = (byte) ids[i];
        }
        return new String(b, StandardCharsets.UTF_8);
    }

    @Override
    public OptionalInt eosId() {
        return OptionalInt.empty();
    }

    @Override
    public int vocabSize() {
        return 256;
    }

    @Override
    public boolean cutsAtLineStarts() {
        return true;
    }
}
