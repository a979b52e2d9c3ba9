package io.resflow.text;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;

/**
 * GPT-2's byte-level BPE with no file: jtokkit's {@code r50k_base} (50,257 ids, {@code <|endoftext|>} = 50256). The
 * text is encoded as Hugging Face's GPT-2 tokenizer does it: {@code <|endoftext|>} in the text becomes id 50256 and
 * everything around it is ordinary text.
 */
public final class Gpt2Tokenizer implements Tokenizer {
    public static final String SPEC = "gpt2";
    public static final String EOT = "<|endoftext|>";
    public static final int EOT_ID = 50256;
    public static final int VOCAB = 50257;

    private static final Encoding R50K = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);

    @Override
    public String spec() {
        return SPEC;
    }

    @Override
    public int[] encode(String text) {
        IntArrayList out = new IntArrayList();
        int from = 0;
        while (true) {
            int at = text.indexOf(EOT, from);
            String part = text.substring(from, at < 0 ? text.length() : at);
            if (!part.isEmpty()) {
                IntArrayList ids = R50K.encodeOrdinary(part);
                out.ensureCapacity(out.size() + ids.size() + 1);
                for (int i = 0; i < ids.size(); i++) {
                    out.add(ids.get(i));
                }
            }
            if (at < 0) {
                return out.toArray();
            }
            out.add(EOT_ID);
            from = at + EOT.length();
        }
    }

    @Override
    public String decode(int[] ids) {
        IntArrayList list = new IntArrayList(ids.length);
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= VOCAB) {
                throw new IllegalArgumentException("gpt2 tokenizer: id " + ids[i] + " at index " + i
                        + " is outside its vocabulary (0.." + (VOCAB - 1) + ")");
            }
            list.add(ids[i]);
        }
        return new String(R50K.decodeBytes(list), StandardCharsets.UTF_8);
    }

    @Override
    public OptionalInt eosId() {
        return OptionalInt.of(EOT_ID);
    }

    @Override
    public int vocabSize() {
        return VOCAB;
    }

    @Override
    public boolean cutsAtLineStarts() {
        return true;
    }
}
