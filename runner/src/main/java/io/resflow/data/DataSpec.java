package io.resflow.data;

import io.resflow.out.JsonFields;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resflow.model.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * The {@code data} field of a run config:
 * <pre>
 * "synthetic"                                          one seeded batch, the same every step
 * {"type": "synthetic", "batches": N}                  N seeded batches, cycled
 * {"type": "token_file", "path": "train.bin"}          llm.c .bin token file (uint16 tokens)
 * {"type": "text_file", "path": "corpus.txt",         UTF-8 text, encoded whole by the tokenizer: bytes (one token
 *   "tokenizer": "bytes"|"gpt2"|"tokenizer.json path"}  per byte), gpt2, or a tokenizer.json (or a folder holding
 *                                                      one); default: the model's tokenizer when known, else bytes
 *   (both with an optional "sha256": the file's content hash; run records it in run.json, --resume checks it)
 * {"type": "inline", "tokens": [1, 2, 3, ...]}         the given token ids as a stream
 * </pre>
 * Paths are relative to the run config's folder (or absolute).
 */
public sealed interface DataSpec {

    /** Opens the source for a model with {@code vocab} token ids and batches of (batch, seqLen). */
    DataSource open(int vocab, int batch, int seqLen, long seed);

    /** The spec as JSON, with absolute paths (saved with a run so it can be resumed from any folder). */
    JsonNode toJson();

    /** The SHA-256 the file's content must have (recorded when the run began, or given in the config), or null. */
    default String sha256() {
        return null;
    }

    /** The same spec with the file's content hash recorded (data that is not a file is returned unchanged). */
    default DataSpec withSha256(String hash) {
        return this;
    }

    /** The file the data comes from, or null. */
    default Path file() {
        return null;
    }

    record Synthetic(int batches) implements DataSpec {
        @Override
        public DataSource open(int vocab, int batch, int seqLen, long seed) {
            return new SyntheticData(seed, batches, batch, seqLen, vocab);
        }

        @Override
        public JsonNode toJson() {
            return obj("synthetic").put("batches", batches);
        }
    }

    /** @param sha256 the content hash the file must have, or null */
    record TokenFile(Path path, String sha256) implements DataSpec {
        @Override
        public DataSource open(int vocab, int batch, int seqLen, long seed) {
            return TokenFiles.openBin(path, vocab, batch, seqLen);
        }

        @Override
        public JsonNode toJson() {
            ObjectNode o = obj("token_file").put("path", path.toAbsolutePath().toString());
            return sha256 == null ? o : o.put("sha256", sha256);
        }

        @Override
        public DataSpec withSha256(String hash) {
            return new TokenFile(path, hash);
        }

        @Override
        public Path file() {
            return path;
        }
    }

    /**
     * @param tokenizer the tokenizer's spec: {@code bytes}, {@code gpt2} or an absolute tokenizer.json path
     * @param sha256 the content hash the file must have, or null
     */
    record TextFile(Path path, String tokenizer, String sha256) implements DataSpec {
        @Override
        public DataSource open(int vocab, int batch, int seqLen, long seed) {
            try (io.resflow.text.Tokenizer t = io.resflow.text.Tokenizers.resolve(tokenizer, null, path + ": tokenizer")) {
                return TokenFiles.openText(path, t, vocab, batch, seqLen);
            }
        }

        @Override
        public JsonNode toJson() {
            ObjectNode o = obj("text_file").put("path", path.toAbsolutePath().toString()).put("tokenizer", tokenizer);
            return sha256 == null ? o : o.put("sha256", sha256);
        }

        @Override
        public DataSpec withSha256(String hash) {
            return new TextFile(path, tokenizer, hash);
        }

        @Override
        public Path file() {
            return path;
        }
    }

    /** @param source where the tokens were given, for messages */
    record Inline(int[] tokens, String source) implements DataSpec {
        @Override
        public DataSource open(int vocab, int batch, int seqLen, long seed) {
            return new TokenStream(source, tokens.length, i -> tokens[(int) i], batch, seqLen);
        }

        @Override
        public JsonNode toJson() {
            ObjectNode o = obj("inline");
            var a = o.putArray("tokens");
            for (int t : tokens) {
                a.add(t);
            }
            return o;
        }
    }

    private static ObjectNode obj(String type) {
        return JsonNodeFactory.instance.objectNode().put("type", type);
    }

    /** Parses the field with bytes as a text file's default tokenizer. */
    static DataSpec parse(JsonNode node, Path configFile, int vocab) {
        return parse(node, configFile, vocab, null);
    }

    /**
     * Parses the field (null: synthetic with one batch); ids of inline tokens are checked against {@code vocab}.
     *
     * @param modelTokenizer the model's tokenizer spec (a text file's default), or null (bytes)
     */
    static DataSpec parse(JsonNode node, Path configFile, int vocab, String modelTokenizer) {
        String where = configFile + ": field 'data'";
        if (node == null || node.isNull()) {
            return new Synthetic(1);
        }
        if (node.isTextual()) {
            if (node.asText().equals("synthetic")) {
                return new Synthetic(1);
            }
            throw new BadInputException(where + ": unknown data '" + node.asText()
                    + "' (a string must be \"synthetic\"; files are {\"type\": \"token_file\"|\"text_file\", \"path\": ...})");
        }
        if (!node.isObject()) {
            throw new BadInputException(where + " must be \"synthetic\" or an object with a 'type', got " + node);
        }
        JsonFields f = new JsonFields(node, configFile, "data.");
        String type = f.text("type", null);
        if (type == null) {
            throw new BadInputException(where + ": missing field 'data.type' (synthetic, token_file, text_file, inline)");
        }
        return switch (type) {
            case "synthetic" -> {
                f.allowOnly(Set.of("type", "batches"));
                yield new Synthetic(f.integer("batches", 1, 1));
            }
            case "token_file", "text_file" -> {
                f.allowOnly(type.equals("text_file") ? Set.of("type", "path", "sha256", "tokenizer") : Set.of("type", "path", "sha256"));
                String p = f.text("path", null);
                if (p == null) {
                    throw new BadInputException(where + ": missing field 'data.path' (required for type " + type + ")");
                }
                String hash = f.text("sha256", null);
                if (hash != null && !hash.matches("[0-9a-f]{64}")) {
                    throw new BadInputException(configFile + ": field 'data.sha256' must be 64 lowercase hex digits (the "
                            + "file's SHA-256), got '" + hash + "'");
                }
                Path path = resolve(configFile, p);
                if (type.equals("token_file")) {
                    yield new TokenFile(path, hash);
                }
                yield new TextFile(path, tokenizerSpec(f.text("tokenizer", null), configFile, modelTokenizer), hash);
            }
            case "inline" -> {
                f.allowOnly(Set.of("type", "tokens"));
                JsonNode a = node.get("tokens");
                if (a == null || !a.isArray() || a.isEmpty()) {
                    throw new BadInputException(where + ": field 'data.tokens' must be a non-empty array of token ids");
                }
                int[] t = new int[a.size()];
                for (int i = 0; i < t.length; i++) {
                    JsonNode v = a.get(i);
                    if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                        throw new BadInputException(where + ": data.tokens[" + i + "] must be an integer, got " + v);
                    }
                    t[i] = v.asInt();
                    if (t[i] < 0 || t[i] >= vocab) {
                        throw new BadInputException(where + ": token id " + t[i] + " at data.tokens[" + i
                                + "] is out of range for vocab_size " + vocab);
                    }
                }
                yield new Inline(t, configFile + ": field 'data.tokens'");
            }
            default -> throw new BadInputException(where + ": unknown data.type '" + type
                    + "' (known: synthetic, token_file, text_file, inline)");
        };
    }

    /**
     * A text file's tokenizer: the field as given (bytes, gpt2, or a path, made absolute: relative to the config's
     * folder, else the working directory), else the model's, else bytes. A path that does not exist is bad input
     * naming the field.
     */
    private static String tokenizerSpec(String given, Path configFile, String modelTokenizer) {
        if (given == null) {
            return modelTokenizer != null ? modelTokenizer : io.resflow.text.ByteTokenizer.SPEC;
        }
        if (given.equals(io.resflow.text.ByteTokenizer.SPEC) || given.equals(io.resflow.text.Gpt2Tokenizer.SPEC)) {
            return given;
        }
        Path p = resolve(configFile, given);
        if (!Files.exists(p)) {
            throw new BadInputException(configFile + ": field 'data.tokenizer': '" + given + "' is neither gpt2, bytes, "
                    + "nor an existing tokenizer.json or folder holding one (looked for " + p + ")");
        }
        return p.toAbsolutePath().normalize().toString();
    }

    /** A path from a config: absolute, relative to the config's folder, or (if that does not exist) to the cwd. */
    static Path resolve(Path configFile, String p) {
        Path given = Path.of(p);
        if (given.isAbsolute()) {
            return given;
        }
        Path parent = configFile.toAbsolutePath().getParent();
        Path rel = parent == null ? given : parent.resolve(given);
        return Files.exists(rel) || !Files.exists(given) ? rel.normalize() : given;
    }
}
