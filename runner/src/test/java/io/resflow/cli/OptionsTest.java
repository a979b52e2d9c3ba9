package io.resflow.cli;

import static io.resflow.cli.Cli.args;
import static io.resflow.cli.Cli.badInput;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every numeric option is checked for range and meaning by the same mechanism ({@link OptionTypes}) in every command
 * (issue 11, row 6): a meaningless value is bad input naming the option.
 */
class OptionsTest {
    @TempDir
    Path tmp;

    private Path run() {
        return Cli.write(tmp.resolve("r.json"), Cli.tinyRun(""));
    }

    private Path model() {
        return Cli.write(tmp.resolve("m.json"), """
                {"family": "gpt2", "n_layer": 1, "d_model": 16, "n_head": 2, "vocab_size": 32, "max_seq_len": 64}
                """);
    }

    @Test
    void meaninglessValuesAreRejectedNamingTheOption() {
        Path tv = Cli.TESTVECTORS.resolve("gpt2-tiny");
        badInput(args("check", tv, "--eps", "-1"), "--eps", "above 0 and below 1", "'-1'");
        badInput(args("check", tv, "--eps", "NaN"), "--eps");
        badInput(args("check", tv, "--eps", "2"), "--eps");
        badInput(args("gradcheck", model(), "--samples", "0"), "--samples", "positive integer", "'0'");
        badInput(args("gradcheck", model(), "--seq-len", "1000"), "--seq-len", "1..64", "max_seq_len", "1000");
        badInput(args("gradcheck", model(), "--seq-len", "0"), "--seq-len");
        badInput(args("gradcheck", model(), "--tolerance", "0"), "--tolerance");
        badInput(args("validate", run(), "--backend", "reference", "--eps", "0"), "--eps");
        badInput(args("validate", run(), "--backend", "reference", "--batch", "0"), "--batch");
        badInput(args("validate", run(), "--backend", "reference", "--seq-len", "99"), "--seq-len", "1..16", "max_seq_len");
        badInput(args("run", run(), "--steps", "-1"), "--steps", "0 or more");
        badInput(args("run", run(), "--stop-after", "0"), "--stop-after");
        badInput(args("bench", run(), "--repeats", "0"), "--repeats");
        badInput(args("bench", run(), "--warmup", "-3"), "--warmup");
        badInput(args("ablation", run(), "--steps", "0"), "--steps");
        badInput(args("ablation", run(), "--threshold", "-1"), "--threshold", "positive number");
        badInput(args("run", run(), "--steps", "ten"), "--steps", "'ten' is not an integer");
    }

    @Test
    void theSmallestMeaningfulValuesStayValid() {
        Path bench = Cli.write(tmp.resolve("b.json"), """
                {"name": "b", "models": ["r.json"], "backends": ["reference"], "modes": ["forward"], "check": "none"}
                """);
        run();
        Cli.Result r = Cli.ok("bench", bench, "--warmup", "1", "--repeats", "1", "--out", tmp.resolve("b"));
        assertTrue(r.out().contains("1 warm-up + 1 measured"), r::toString);
        Cli.Result g = Cli.ok("gradcheck", model(), "--samples", "1", "--seq-len", "64");
        assertTrue(g.out().contains("PASS"), g::toString);
        Cli.ok("run", run(), "--steps", "0", "--out", tmp.resolve("zero"));
    }
}
