package io.resflow.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.model.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** jtokkit and Hugging Face's tokenizers library on the same GPT-2 vocabulary give the same ids; decode round-trips. */
class TokenizersTest {
    /** Unicode, emoji (a ZWJ sequence, a flag), tabs, CRLF, code, runs of spaces, contractions, digits, the EOT. */
    static final String TEXT = "Hello world! It's a test: naïve café, Ünïcödé, 日本語のテキスト, Ελληνικά, русский.\r\n"
            + "Emoji: 😀👍🏽 👨‍👩‍👧‍👦 🇩🇪 ✓\r\n"
            + "\tTabbed\tline\t\twith  two   spaces    and trailing   \n"
            + "def f(x):\r\n\treturn {'a': x ** 2, \"b\": [1, 2, 3]}  # comment\n"
            + "for (int i = 0; i < n; i++) { sum += a[i]; }\n\n\n"
            + "We're, they'll, I'd, you've, he's 12345 3.14159 $1,000,000.00\n"
            + "<|endoftext|>Next document after the end-of-text token.\n   \n\u00a0nbsp \u3000ideographic space";

    @TempDir
    static Path dir;
    static Path tokenizerJson;

    @BeforeAll
    static void writeVocab() {
        tokenizerJson = dir.resolve("tokenizer.json");
        Gpt2Vocab.write(tokenizerJson);
    }

    @Test
    void jtokkitAndHuggingFaceGiveTheSameIds() {
        Tokenizer jt = new Gpt2Tokenizer();
        try (Tokenizer hf = Tokenizers.resolve(tokenizerJson.toString(), null, "test")) {
            int[] a = jt.encode(TEXT);
            int[] b = hf.encode(TEXT);
            assertArrayEquals(a, b, () -> "jtokkit " + Arrays.toString(a) + "\nhf      " + Arrays.toString(b));
            assertTrue(a.length > 100, "the text is many tokens: " + a.length);
            assertTrue(Arrays.stream(a).anyMatch(i -> i == Gpt2Tokenizer.EOT_ID), "<|endoftext|> became its id");
            assertEquals(TEXT, jt.decode(a));
            assertEquals(TEXT, hf.decode(b));
            assertEquals(jt.vocabSize(), hf.vocabSize());
            assertEquals(Gpt2Tokenizer.EOT_ID, hf.eosId().getAsInt());
            assertTrue(hf.cutsAtLineStarts());
        }
    }

    @Test
    void knownIds() {
        // GPT-2's ids for these strings, as transformers' GPT2TokenizerFast gives them
        assertArrayEquals(new int[] {15496, 995}, new Gpt2Tokenizer().encode("Hello world"));
        assertArrayEquals(new int[] {15496, 995, 50256}, new Gpt2Tokenizer().encode("Hello world<|endoftext|>"));
    }

    @Test
    void piecesCutAtLineStartsEncodeAsTheWhole() {
        Tokenizer t = new Gpt2Tokenizer();
        int[] whole = t.encode(TEXT);
        java.util.List<Integer> parts = new java.util.ArrayList<>();
        for (String piece : TextChunks.split(TEXT, 16)) {
            for (int id : t.encode(piece)) {
                parts.add(id);
            }
        }
        assertArrayEquals(whole, parts.stream().mapToInt(Integer::intValue).toArray());
        assertEquals(TEXT, String.join("", TextChunks.split(TEXT, 16)));
    }

    @Test
    void bytes() {
        Tokenizer t = Tokenizers.resolve("bytes", null, "test");
        int[] ids = t.encode("a\tü\r\n");
        assertArrayEquals(new int[] {97, 9, 0xc3, 0xbc, 13, 10}, ids);
        assertEquals("a\tü\r\n", t.decode(ids));
        assertTrue(t.eosId().isEmpty());
    }

    @Test
    void badSpecsNameTheirSource() {
        var e = assertThrows(BadInputException.class, () -> Tokenizers.resolve("gtp2", dir, "cfg.json: field 'data.tokenizer'"));
        assertTrue(e.getMessage().startsWith("cfg.json: field 'data.tokenizer': tokenizer 'gtp2' is neither"), e.getMessage());
        var empty = assertThrows(BadInputException.class, () -> Tokenizers.resolve(dir.resolve("none").toString(), null, "x"));
        assertTrue(empty.getMessage().contains("none"), empty.getMessage());
    }

    @Test
    void malformedTokenizerJsonIsBadInput() throws Exception {
        Path bad = dir.resolve("bad");
        Files.createDirectories(bad);
        Files.writeString(bad.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a\"]}}");
        var e = assertThrows(BadInputException.class, () -> Tokenizers.resolve(bad.toString(), null, "--tokenizer"));
        assertTrue(e.getMessage().startsWith(bad.resolve("tokenizer.json").toString()), e.getMessage());
        Path empty = dir.resolve("empty");
        Files.createDirectories(empty);
        var e2 = assertThrows(BadInputException.class, () -> Tokenizers.resolve(empty.toString(), null, "--tokenizer"));
        assertTrue(e2.getMessage().contains("has no tokenizer.json"), e2.getMessage());
    }
}
