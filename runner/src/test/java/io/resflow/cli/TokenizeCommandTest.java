package io.resflow.cli;

import io.resflow.train.ModelSource;

import io.resflow.data.TokenFiles;

import static io.resflow.cli.Cli.args;
import static io.resflow.cli.Cli.badInput;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.text.ByteTokenizer;
import io.resflow.text.Gpt2Tokenizer;
import io.resflow.text.Gpt2Vocab;
import io.resflow.text.TokenizersTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code resflow tokenize} and the {@code tokenizer} of text_file data. */
class TokenizeCommandTest {
    @TempDir
    Path tmp;

    /** The ids of a token file, read straight from its bytes; TokenFiles must open it for a model of {@code vocab}. */
    private static int[] ids(Path bin, int vocab) throws IOException {
        TokenFiles.openBin(bin, vocab, 1, 1);
        var b = java.nio.ByteBuffer.wrap(Files.readAllBytes(bin)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[b.getInt(8)];
        for (int i = 0; i < out.length; i++) {
            out[i] = Short.toUnsignedInt(b.getShort(1024 + 2 * i));
        }
        return out;
    }

    @Test
    void writesLlmCTokenFiles() throws IOException {
        Path text = Cli.write(tmp.resolve("t.txt"), TokenizersTest.TEXT);
        Path bin = tmp.resolve("t.bin");
        Cli.Result r = Cli.ok("tokenize", text, "--tokenizer", "gpt2", "--out", bin);
        int[] expected = new Gpt2Tokenizer().encode(TokenizersTest.TEXT);
        assertTrue(r.out().contains(String.format("%,d tokens (tokenizer gpt2", expected.length)), r::toString);
        assertArrayEquals(expected, ids(bin, 50257));
        var h = java.nio.ByteBuffer.wrap(Files.readAllBytes(bin)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(20240520, h.getInt(0));
        assertEquals(1, h.getInt(4));
        assertEquals(expected.length, h.getInt(8));
        assertEquals(1024 + 2L * expected.length, Files.size(bin));

        badInput(args("tokenize", text, "--tokenizer", "bytes", "--out", bin), "--out " + bin, "already exists", "--force");
        Cli.ok("tokenize", text, "--tokenizer", "bytes", "--out", bin, "--force");
        assertArrayEquals(new ByteTokenizer().encode(TokenizersTest.TEXT), ids(bin, 256));

        Path folder = Files.createDirectories(tmp.resolve("gpt2-folder"));
        Gpt2Vocab.write(folder.resolve("tokenizer.json"));
        Path bin2 = tmp.resolve("t2.bin");
        Cli.ok("tokenize", text, "--tokenizer", folder, "--out", bin2);
        assertArrayEquals(expected, ids(bin2, 50257));
    }

    @Test
    void largeFilesAreEncodedInPiecesToTheSameIds() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; sb.length() < 1_200_000; i++) {
            sb.append(TokenizersTest.TEXT).append(i).append('\n');
        }
        Path text = Cli.write(tmp.resolve("big.txt"), sb.toString());
        Path bin = tmp.resolve("big.bin");
        Cli.Result r = Cli.ok("tokenize", text, "--tokenizer", "gpt2", "--out", bin);
        assertTrue(r.out().contains("tokenize: 80% (") && r.out().contains("tokenize: 100% ("), r::toString);
        assertArrayEquals(new Gpt2Tokenizer().encode(sb.toString()), ids(bin, 50257));
    }

    @Test
    void refusesBadInput() throws IOException {
        Path text = Cli.write(tmp.resolve("t.txt"), "hello world hello\n");
        Path tj = Cli.write(tmp.resolve("big-ids/tokenizer.json"), """
                {"version": "1.0", "added_tokens": [], "normalizer": null,
                 "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
                 "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "hello": 70000, "world": 5}, "unk_token": "[UNK]"}}
                """);
        Path bin = tmp.resolve("t.bin");
        badInput(args("tokenize", text, "--tokenizer", tj, "--out", bin), text.toString(), "token id 70000 at index 0",
                "above 65535");
        assertTrue(Files.notExists(bin));
        badInput(args("tokenize", text, "--tokenizer", "gtp2", "--out", bin), "--tokenizer", "'gtp2'");
        Path latin1 = tmp.resolve("l.txt");
        Files.write(latin1, new byte[] {'a', (byte) 0xe9, 'b'});
        badInput(args("tokenize", latin1, "--tokenizer", "gpt2", "--out", bin), latin1.toString(), "not valid UTF-8", "offset 1");
        badInput(args("tokenize", tmp.resolve("none.txt"), "--tokenizer", "gpt2", "--out", bin), "none.txt", "not found");
    }

    @Test
    void textFileDataTakesATokenizer() {
        Path text = Cli.write(tmp.resolve("corpus.txt"), TokenizersTest.TEXT);
        // GPT-2 ids do not fit a model of 256 ids
        Path cfg = Cli.write(tmp.resolve("r.json"), Cli.tinyRun(
                "\"data\": {\"type\": \"text_file\", \"path\": \"corpus.txt\", \"tokenizer\": \"gpt2\"}"));
        badInput(args("run", cfg, "--out", tmp.resolve("r")), text.toString(), "tokenizer gpt2", "out of range for the model's vocab_size 256");
        Path missing = Cli.write(tmp.resolve("m.json"), Cli.tinyRun(
                "\"data\": {\"type\": \"text_file\", \"path\": \"corpus.txt\", \"tokenizer\": \"nope/tokenizer.json\"}"));
        badInput(args("run", missing, "--out", tmp.resolve("m")), missing + ": field 'data.tokenizer'", "nope/tokenizer.json");
        // a model with GPT-2's vocabulary trains on it; run.json records the tokenizer
        Path ok = Cli.write(tmp.resolve("ok.json"), Cli.tinyRun(
                "\"data\": {\"type\": \"text_file\", \"path\": \"corpus.txt\", \"tokenizer\": \"gpt2\"}")
                .replace("\"vocab_size\": 256", "\"vocab_size\": 50257"));
        Cli.Result r = Cli.ok("run", ok, "--steps", "1", "--out", tmp.resolve("ok"));
        assertTrue(r.out().contains("data text file (tokenizer gpt2) "), r::toString);
        assertEquals("gpt2", Cli.json(tmp.resolve("ok/run.json")).get("data").get("tokenizer").asText());
        assertEquals("gpt2", ModelSource.fromPath(tmp.resolve("ok")).tokenizer());
    }
}
