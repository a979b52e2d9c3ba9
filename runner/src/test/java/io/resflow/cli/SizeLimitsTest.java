package io.resflow.cli;

import static io.resflow.cli.Cli.args;
import static io.resflow.cli.Cli.badInput;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Sizes whose products overflow are bad input naming the field and the limit, found before anything is allocated or
 * written (issue 11, row 4).
 */
class SizeLimitsTest {
    @TempDir
    Path tmp;

    private static final String LIMIT = "2,147,483,639";

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "\"d_model\": 32|\"d_model\": 65536|field 'd_model' (65536)|h.0.qkv.w",
        "\"vocab_size\": 256|\"vocab_size\": 2000000000|field 'vocab_size' (2000000000)|wte",
        "\"max_seq_len\": 16|\"max_seq_len\": 2000000000|field 'max_seq_len' (2000000000)|wpe",
        "\"batch\": 2|\"batch\": 100000000|field 'batch' (100000000)|batch",
    })
    void tooLargeIsBadInputNamingTheFieldAndNothingIsWritten(String from, String to, String field, String what) {
        Path cfg = Cli.write(tmp.resolve("big.json"), Cli.tinyRun("").replace(from, to));
        Path out = tmp.resolve("out");
        badInput(args("run", cfg, "--out", out), "big.json", field, what, LIMIT);
        assertFalse(Files.exists(out), "no output folder before the config is known to be good");
    }

    @Test
    void huggingFaceConfigsAreNamedInTheirOwnWords() {
        Path dir = tmp.resolve("hf");
        Cli.write(dir.resolve("config.json"), """
                {"model_type": "gpt2", "n_layer": 2, "n_embd": 65536, "n_head": 4, "vocab_size": 256, "n_positions": 16}
                """);
        Path cfg = Cli.write(tmp.resolve("r.json"), "{\"model\": \"hf\", \"backend\": \"reference\"}");
        badInput(args("run", cfg, "--out", tmp.resolve("o")), "config.json", "field 'n_embd' (65536)", LIMIT);
    }

    @Test
    void optionsThatMakeBatchesTooLargeAreNamed() {
        Path cfg = Cli.write(tmp.resolve("v.json"), Cli.tinyRun("").replace("\"vocab_size\": 256", "\"vocab_size\": 50000"));
        badInput(args("validate", cfg, "--backend", "reference", "--batch", "100000", "--out", tmp.resolve("o")),
                "--batch (100000) is too large", "the logits", LIMIT);
        assertFalse(Files.exists(tmp.resolve("o")));
    }
}
