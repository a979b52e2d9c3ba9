package io.resflow.cli;

import static io.resflow.cli.Cli.args;
import static io.resflow.cli.Cli.badInput;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.model.HfWeights;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.ModelConfigs;
import io.resflow.model.Params;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Messages in the project's words (issue 11, row 11): no library class or exception name (the parser's
 * configuration classes, its [Source: ...] descriptions, Java exception names, the decoder's "Input length"), and
 * tensors named as the user's file names them.
 */
class MessagesTest {
    @TempDir
    Path tmp;

    private static void noInternals(Cli.Result r) {
        for (String leak : List.of("StreamReadConstraints", "[Source", "REDACTED", "Exception", "java.", "Input length", "`")) {
            assertFalse(r.err().contains(leak), () -> "'" + leak + "' in the message\n" + r);
        }
    }

    @Test
    void jsonErrorsSayWhatAndWhereWithoutTheParsersInternals() {
        Path deep = Cli.write(tmp.resolve("deep.json"), "[".repeat(2000) + "]".repeat(2000));
        noInternals(badInput(args("run", deep), "deep.json", "nesting depth 1001 exceeds the limit of 1000"));
        Path eof = Cli.write(tmp.resolve("eof.json"), "{\"model\": {\"a\": [1, 2");
        noInternals(badInput(args("run", eof), "eof.json", "malformed JSON at line 1", "start marker at line 1, column 17"));
        Path num = Cli.write(tmp.resolve("num.json"), "{\"model\": " + "1".repeat(2000) + "}");
        noInternals(badInput(args("run", num), "num.json", "number value length 2000 exceeds the limit of 1000"));
    }

    @Test
    void invalidUtf8NamesTheOffset() {
        Raw.bytes(tmp.resolve("latin1.txt"), "caf\u00e9 au lait, caf\u00e9 au lait, caf\u00e9 au lait".getBytes(
                java.nio.charset.StandardCharsets.ISO_8859_1));
        Path cfg = Cli.write(tmp.resolve("d.json"), Cli.tinyRun("\"data\": {\"type\": \"text_file\", \"path\": \"latin1.txt\"}"));
        noInternals(badInput(args("run", cfg, "--out", tmp.resolve("o")), "latin1.txt",
                "not valid UTF-8: byte 0xe9 at offset 3"));
    }

    /** NaN in a Hugging Face file's weights: named by the file's tensor name and index, before training. */
    @Test
    void nonFiniteWeightsAreNamedAsTheFileNamesThem() throws Exception {
        ModelConfig c = ModelConfigs.fromJson(Cli.JSON.readTree(
                "{\"family\": \"gpt2\", \"n_layer\": 2, \"d_model\": 32, \"n_head\": 4, \"vocab_size\": 256, \"max_seq_len\": 16}"),
                "test");
        Params p = Initializer.init(c);
        p.data("h.0.qkv.w")[640] = Float.NaN; // internal (out=96, in=32): row 20, column 0
        Path hf = tmp.resolve("hf");
        HfWeights.saveHf(hf, p, c);
        Path cfg = Cli.write(tmp.resolve("r.json"), "{\"model\": \"hf\", \"backend\": \"reference\", \"batch\": 2, \"seq_len\": 8}");
        Path out = tmp.resolve("o");
        // GPT-2 stores c_attn.weight as [in, out]: the internal [20, 0] is the file's [0, 20]
        Cli.Result r = badInput(args("run", cfg, "--out", out), "model.safetensors",
                "tensor 'transformer.h.0.attn.c_attn.weight' holds NaN at [0, 20]", "weights must be finite");
        assertFalse(r.err().contains("h.0.qkv.w"), r::toString);
        assertFalse(Files.exists(out));
    }

    /**
     * Permission lost mid-run: the checkpoints folder becomes unwritable between a run's checkpoints (read-only for a
     * non-root user; immutable with chattr for root, who ignores permissions). Exit 3, no exception name.
     */
    @Test
    void aFolderThatBecomesUnwritableIsAPlainRuntimeFailure() throws Exception {
        Path cfg = Cli.write(tmp.resolve("r.json"), Cli.tinyRun("\"checkpoint_every\": 2"));
        Path dir = tmp.resolve("run");
        Cli.ok("run", cfg, "--out", dir, "--stop-after", "2");
        Path ck = dir.resolve("checkpoints");
        boolean root = "root".equals(System.getProperty("user.name"));
        List<String> lock = root ? List.of("chattr", "+i", ck.toString()) : List.of("chmod", "555", ck.toString());
        List<String> unlock = root ? List.of("chattr", "-i", ck.toString()) : List.of("chmod", "755", ck.toString());
        Process p = new ProcessBuilder(lock).redirectErrorStream(true).start();
        boolean locked = p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        Assumptions.assumeTrue(locked, "cannot make a folder unwritable here: " + new String(p.getInputStream().readAllBytes()));
        try {
            Cli.Result r = Cli.run("run", "--resume", dir);
            assertEquals(3, r.code(), r::toString);
            assertTrue(r.err().contains("ckpt-00000004.safetensors: cannot write: "
                    + (root ? "operation not permitted" : "permission denied")), r::toString);
            assertTrue(r.err().contains("last good checkpoint: " + ck.resolve("ckpt-00000002.safetensors")), r::toString);
            noInternals(r);
        } finally {
            new ProcessBuilder(unlock).start().waitFor(30, TimeUnit.SECONDS);
        }
        Cli.ok("run", "--resume", dir);
    }
}
