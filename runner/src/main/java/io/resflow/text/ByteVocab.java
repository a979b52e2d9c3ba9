package io.resflow.text;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resflow.safetensors.SafeTensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * The bytes tokenizer ({@link ByteTokenizer}: id = UTF-8 byte) as a Hugging Face {@code tokenizer.json}, so that an
 * exported byte-level model carries its tokenizer: GPT-2's byte-to-character map as the pre-tokenizer (no regex, no
 * prefix space) and a BPE with the 256 byte characters as its vocabulary (id = byte) and no merges. transformers
 * loads it as a {@code PreTrainedTokenizerFast}; its ids are those of {@link ByteTokenizer}.
 */
public final class ByteVocab {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ByteVocab() {
    }

    /** GPT-2's map from a byte to the printable character that stands for it in byte-level vocabularies. */
    static int[] byteToChar() {
        int[] map = new int[256];
        boolean[] printable = new boolean[256];
        for (int b = 0; b < 256; b++) {
            printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        }
        int n = 0;
        for (int b = 0; b < 256; b++) {
            map[b] = printable[b] ? b : 256 + n++;
        }
        return map;
    }

    /** tokenizer.json's "model": a byte-level BPE with no unknown token, dropout or affixes (vocab and merges to add). */
    static ObjectNode bpeModel(ObjectNode root) {
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.put("continuing_subword_prefix", "");
        model.put("end_of_word_suffix", "");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        return model;
    }

    public static ObjectNode tokenizerJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        root.putArray("added_tokens");
        root.putNull("normalizer");
        root.set("pre_tokenizer", byteLevel(false, false, false));
        root.putNull("post_processor");
        root.set("decoder", byteLevel(false, false, false));
        ObjectNode model = bpeModel(root);
        ObjectNode vocab = model.putObject("vocab");
        int[] map = byteToChar();
        for (int b = 0; b < 256; b++) {
            vocab.put(Character.toString(map[b]), b);
        }
        model.putArray("merges");
        return root;
    }

    /** Writes the tokenizer.json to {@code file}, atomically. */
    public static void write(Path file) {
        try {
            SafeTensorsWriter.writeAtomically(file, JSON.writeValueAsBytes(tokenizerJson()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A tokenizer.json ByteLevel pre-tokenizer, post-processor or decoder. */
    static ObjectNode byteLevel(boolean addPrefixSpace, boolean trimOffsets, boolean regex) {
        ObjectNode o = JSON.createObjectNode();
        o.put("type", "ByteLevel");
        o.put("add_prefix_space", addPrefixSpace);
        o.put("trim_offsets", trimOffsets);
        o.put("use_regex", regex);
        return o;
    }
}
