package io.resflow.text;

import java.util.OptionalInt;

/**
 * Text to token ids and back. {@link #encode} takes the text exactly as given (no special tokens added, CRLF and tabs
 * kept, a special token's text such as {@code <|endoftext|>} becomes its id as Hugging Face tokenizers do);
 * {@link #decode} turns ids back into text (bytes that are not valid UTF-8 on their own, such as half of an emoji,
 * become U+FFFD). Implementations: {@link ByteTokenizer} ({@code "bytes"}), {@link Gpt2Tokenizer} ({@code "gpt2"},
 * jtokkit's r50k_base) and {@link HfTokenizer} (a {@code tokenizer.json} read by Hugging Face's tokenizers library);
 * {@link Tokenizers#resolve} makes one from a spec. A tokenizer holding native memory frees it on {@link #close}.
 */
public interface Tokenizer extends AutoCloseable {

    /** A short name for messages and run headers: {@code bytes}, {@code gpt2}, or the tokenizer.json path. */
    default String name() {
        return spec();
    }

    /**
     * What a config writes to get this tokenizer again: {@code "bytes"}, {@code "gpt2"} or the absolute path of the
     * tokenizer.json.
     */
    String spec();

    /** The ids of a text, in order. */
    int[] encode(String text);

    /** The text of ids (special tokens included as their text). */
    String decode(int[] ids);

    /** The end-of-text token, when the tokenizer knows one. */
    OptionalInt eosId();

    /** One more than the largest id the tokenizer can produce. */
    int vocabSize();

    /**
     * Whether encoding a text in pieces cut just after a {@code '\n'} that a non-whitespace character follows gives
     * the same ids as encoding it whole (true for bytes and GPT-2's byte-level BPE, whose pre-tokenizer always ends a
     * piece there). {@code tokenize} shows progress on large files only when this holds; otherwise it encodes the
     * file as one string.
     */
    boolean cutsAtLineStarts();

    @Override
    default void close() {
    }
}
