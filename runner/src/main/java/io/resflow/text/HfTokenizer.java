package io.resflow.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import io.resflow.model.BadInputException;
import io.resflow.model.IoErrors;
import io.resflow.model.ModelConfigs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A Hugging Face {@code tokenizer.json}, encoded and decoded by Hugging Face's tokenizers library itself through DJL's
 * binding (its native library ships inside the jar). No special tokens are added and nothing is truncated or padded:
 * the ids are those of {@code tokenizer(text, add_special_tokens=False)} in transformers. The end-of-text token is
 * the {@code eos_token} of a {@code tokenizer_config.json} beside the file, else the one added special token among
 * {@code <|endoftext|>}, {@code </s>}, {@code <|end_of_text|>}, {@code <eos>} (as transformers' GPT-2 tokenizer
 * defaults to {@code <|endoftext|>}).
 */
public final class HfTokenizer implements Tokenizer {
    public static final String FILE = "tokenizer.json";
    private static final List<String> EOS_NAMES = List.of("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>");

    private final Path file;
    private final HuggingFaceTokenizer tok;
    private final int vocab;
    private final OptionalInt eos;
    private final boolean byteLevel;

    private HfTokenizer(Path file, HuggingFaceTokenizer tok, int vocab, OptionalInt eos, boolean byteLevel) {
        this.file = file;
        this.tok = tok;
        this.vocab = vocab;
        this.eos = eos;
        this.byteLevel = byteLevel;
    }

    /**
     * Opens a {@code tokenizer.json}, or the one in a folder.
     *
     * @throws BadInputException naming the file when it is missing, not JSON, or not a tokenizer the library reads
     */
    public static HfTokenizer open(Path fileOrFolder) {
        Path file = Files.isDirectory(fileOrFolder) ? fileOrFolder.resolve(FILE) : fileOrFolder;
        if (Files.isDirectory(fileOrFolder) && !Files.exists(file)) {
            throw new BadInputException(fileOrFolder + ": folder has no " + FILE + " (give a tokenizer.json file, a "
                    + "folder holding one, \"gpt2\" or \"bytes\")");
        }
        JsonNode root = ModelConfigs.readJson(file);
        JsonNode model = root.path("model");
        if (!root.isObject() || !model.isObject()) {
            throw new BadInputException(file + ": not a Hugging Face tokenizer.json (no 'model' object)");
        }
        Map<String, Integer> ids = new java.util.HashMap<>();
        int max = -1;
        JsonNode v = model.path("vocab");
        if (v.isObject()) {
            for (var e : v.properties()) {
                ids.put(e.getKey(), e.getValue().asInt());
                max = Math.max(max, e.getValue().asInt());
            }
        } else if (v.isArray()) { // Unigram: [[piece, score], ...]
            for (int i = 0; i < v.size(); i++) {
                ids.put(v.get(i).path(0).asText(), i);
            }
            max = v.size() - 1;
        }
        java.util.Set<String> special = new java.util.LinkedHashSet<>();
        for (JsonNode a : root.path("added_tokens")) {
            int id = a.path("id").asInt(-1);
            String content = a.path("content").asText();
            ids.put(content, id);
            max = Math.max(max, id);
            if (a.path("special").asBoolean(false)) {
                special.add(content);
            }
        }
        if (max < 0) {
            throw new BadInputException(file + ": field 'model.vocab' holds no tokens");
        }
        OptionalInt eos = eos(file.toAbsolutePath().getParent(), ids, special);
        JsonNode pre = root.path("pre_tokenizer");
        boolean byteLevel = (root.path("normalizer").isNull() || root.path("normalizer").isMissingNode())
                && pre.path("type").asText().equals("ByteLevel") && pre.path("use_regex").asBoolean(true)
                && !pre.path("add_prefix_space").asBoolean(false);
        HuggingFaceTokenizer t;
        try {
            t = HuggingFaceTokenizer.newInstance(file, Map.of("addSpecialTokens", "false", "truncation", "false",
                    "padding", "false"));
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read: " + IoErrors.describe(e), e);
        } catch (RuntimeException e) {
            throw new BadInputException(file + ": the Hugging Face tokenizers library cannot read it: " + e.getMessage(), e);
        }
        return new HfTokenizer(file.toAbsolutePath(), t, max + 1, eos, byteLevel);
    }

    private static OptionalInt eos(Path folder, Map<String, Integer> ids, java.util.Set<String> special) {
        Path cfg = folder == null ? null : folder.resolve("tokenizer_config.json");
        if (cfg != null && Files.isRegularFile(cfg)) {
            JsonNode e = ModelConfigs.readJson(cfg).path("eos_token");
            String name = e.isTextual() ? e.asText() : e.path("content").asText(null);
            if (name != null && ids.containsKey(name)) {
                return OptionalInt.of(ids.get(name));
            }
        }
        List<String> found = EOS_NAMES.stream().filter(special::contains).toList();
        return found.size() == 1 ? OptionalInt.of(ids.get(found.getFirst())) : OptionalInt.empty();
    }

    /** The tokenizer.json (absolute). */
    public Path file() {
        return file;
    }

    @Override
    public String name() {
        return file.toString();
    }

    @Override
    public String spec() {
        return file.toString();
    }

    @Override
    public int[] encode(String text) {
        long[] ids = tok.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException(file + ": id " + ids[i] + " at index " + i
                        + " is outside the tokenizer's vocabulary (0.." + (vocab - 1) + ")");
            }
            l[i] = ids[i];
        }
        return tok.decode(l, false);
    }

    @Override
    public OptionalInt eosId() {
        return eos;
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    /** True for GPT-2-style files: no normalizer and a ByteLevel pre-tokenizer with GPT-2's regex, no prefix space. */
    @Override
    public boolean cutsAtLineStarts() {
        return byteLevel;
    }

    @Override
    public void close() {
        tok.close();
    }
}
