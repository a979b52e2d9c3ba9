package io.resflow.text;

import io.resflow.model.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** Makes a {@link Tokenizer} from a spec ({@code bytes}, {@code gpt2}, or a tokenizer.json / a folder holding one). */
public final class Tokenizers {
    private Tokenizers() {
    }

    /**
     * The tokenizer a spec names: {@code "bytes"}, {@code "gpt2"}, or a path to a {@code tokenizer.json} or a folder
     * holding one, relative to {@code base} (a config's folder; null: the working directory) or absolute.
     *
     * @param where what gave the spec, for messages (e.g. {@code run.json: field 'data.tokenizer'} or
     *     {@code --tokenizer})
     * @throws BadInputException naming {@code where} when the spec is neither a known name nor an existing path
     */
    public static Tokenizer resolve(String spec, Path base, String where) {
        if (spec == null || spec.isBlank()) {
            throw new BadInputException(where + ": empty tokenizer (give gpt2, bytes, or a tokenizer.json path)");
        }
        if (spec.equals(ByteTokenizer.SPEC)) {
            return new ByteTokenizer();
        }
        if (spec.equals(Gpt2Tokenizer.SPEC)) {
            return new Gpt2Tokenizer();
        }
        Path p = resolvePath(spec, base);
        if (!Files.exists(p)) {
            throw new BadInputException(where + ": tokenizer '" + spec + "' is neither gpt2, bytes, nor an existing "
                    + "tokenizer.json or folder holding one (looked for " + p + ")");
        }
        return HfTokenizer.open(p);
    }

    /** A path from a config: absolute, relative to {@code base}, or (if that does not exist) to the working directory. */
    static Path resolvePath(String spec, Path base) {
        Path given = Path.of(spec);
        if (given.isAbsolute() || base == null) {
            return given;
        }
        Path rel = base.resolve(given).normalize();
        return Files.exists(rel) || !Files.exists(given) ? rel : given;
    }

    /** The tokenizer of a model folder: its {@code tokenizer.json} when there is one. */
    public static Optional<Tokenizer> ofFolder(Path folder) {
        Path f = folder.resolve(HfTokenizer.FILE);
        return Files.isRegularFile(f) ? Optional.of(HfTokenizer.open(f)) : Optional.empty();
    }
}
