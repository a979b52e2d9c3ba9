package io.resflow.cli;

import static io.resflow.cli.Cli.args;
import static io.resflow.cli.Cli.badInput;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code resflow check} passes on every test-vector folder on the reference, and every kind of bad input (configs,
 * safetensors, batches, backends) exits 2 with one line naming the file and the field or tensor, without a stack
 * trace unless --debug.
 */
class CheckCommandTest {
    @TempDir
    Path tmp;

    static Stream<Path> folders() throws IOException {
        try (var s = Files.list(Cli.TESTVECTORS)) {
            return s.filter(Files::isDirectory).sorted().toList().stream();
        }
    }

    @ParameterizedTest
    @MethodSource("folders")
    void everyTestVectorFolderPassesOnTheReference(Path dir) {
        Cli.Result r = Cli.ok("check", dir);
        assertTrue(r.out().contains("PASS"), r::toString);
    }

    /** --dtype bf16: the bf16 run against the folder's fp32 values, the budget printed; a bad dtype is bad input. */
    @Test
    void bf16AgainstTheFoldersFp32Values() {
        for (String b : new String[] {"reference", "jvm"}) {
            Cli.Result r = Cli.ok("check", Cli.TESTVECTORS.resolve("llama-tiny"), "--dtype", "bf16", "-b", b);
            assertTrue(r.out().contains("dtype bf16 against the folder's fp32 values") && r.out().contains("PASS")
                    && r.out().contains("forward eps = u sqrt(2 + 2 log2(1+L)) = 8.88e-03"), r::toString);
        }
        badInput(args("check", Cli.TESTVECTORS.resolve("llama-tiny"), "--dtype", "fp16"),
                "--dtype: unknown dtype 'fp16'; expected fp32 or bf16");
    }

    private Path vectors() {
        return Cli.copyDir(Cli.TESTVECTORS.resolve("gpt2-tiny"), tmp.resolve("tv"));
    }

    private Path modelConfig(String json) {
        return Cli.write(tmp.resolve("model.json"), json);
    }

    private Path runWithModel(String modelJson) {
        return Cli.write(tmp.resolve("run.json"), "{\"model\": " + modelJson + ", \"steps\": 1, \"batch\": 1, \"seq_len\": 4}");
    }

    // ---- configs ----

    @Test
    void malformedJson() {
        Path tv = vectors();
        Cli.write(tv.resolve("config.json"), "{\"model_type\": \"gpt2\", \"n_layer\": 2,,}");
        badInput(args("check", tv), tv.resolve("config.json").toString(), "malformed JSON", "line 1");
        Path run = Cli.write(tmp.resolve("bad.json"), "{\"model\": ");
        badInput(args("run", run, "--out", tmp.resolve("o")), "bad.json", "malformed JSON");
    }

    @Test
    void unknownFields() {
        Path run = Cli.write(tmp.resolve("r.json"), Cli.tinyRun("\"stepz\": 3"));
        badInput(args("run", run, "--out", tmp.resolve("o")), "r.json", "unknown field 'stepz'");
        Path m = modelConfig("{\"family\": \"gpt2\", \"n_layer\": 2, \"d_model\": 32, \"n_head\": 4, \"vocab_size\": 64, "
                + "\"max_seq_len\": 16, \"dropout\": 0.1}");
        badInput(args("gradcheck", m), "model.json", "unknown field 'dropout'");
    }

    @Test
    void missingFields() {
        Path m = modelConfig("{\"family\": \"gpt2\", \"d_model\": 32, \"n_head\": 4, \"vocab_size\": 64, \"max_seq_len\": 16}");
        badInput(args("gradcheck", m), "model.json", "missing required field 'n_layer'");
        Path run = Cli.write(tmp.resolve("r.json"), "{\"steps\": 1}");
        badInput(args("run", run, "--out", tmp.resolve("o")), "r.json", "missing field 'model'");
        Path tv = vectors();
        Cli.write(tv.resolve("vectors.json"), "{\"batch\": 2}");
        badInput(args("check", tv), "vectors.json", "adamw");
    }

    @Test
    void headDimTimesHeadsMustBeDModelWhenHeadDimIsDefaulted() {
        Path run = runWithModel("{\"family\": \"gpt2\", \"n_layer\": 1, \"d_model\": 30, \"n_head\": 4, "
                + "\"vocab_size\": 64, \"max_seq_len\": 16}");
        badInput(args("run", run, "--out", tmp.resolve("o")), "run.json", "head_dim", "d_model");
        Path tv = vectors();
        Cli.write(tv.resolve("config.json"), "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_embd\": 64, \"n_head\": 5, "
                + "\"vocab_size\": 256, \"n_positions\": 32}");
        badInput(args("check", tv), "config.json", "n_head", "n_embd");
    }

    @Test
    void headsMustBeDivisibleByKvHeads() {
        Path m = modelConfig("{\"family\": \"llama\", \"n_layer\": 1, \"d_model\": 32, \"n_head\": 4, \"n_kv_head\": 3, "
                + "\"d_ff\": 64, \"vocab_size\": 64, \"max_seq_len\": 16}");
        badInput(args("gradcheck", m), "model.json", "n_kv_head", "not divisible");
    }

    @Test
    void sequenceLongerThanMaxSeqLen() {
        Path run = Cli.write(tmp.resolve("r.json"), Cli.tinyRun("").replace("\"seq_len\": 8", "\"seq_len\": 17"));
        badInput(args("run", run, "--out", tmp.resolve("o")), "r.json", "'seq_len'", "max_seq_len 16");
        // llama-tiny's vectors use T = 16; RoPE has no position table, so the weights still load
        Path tv = Cli.copyDir(Cli.TESTVECTORS.resolve("llama-tiny"), tmp.resolve("llama"));
        Path cfg = tv.resolve("config.json");
        try {
            Cli.write(cfg, Files.readString(cfg).replace("\"max_position_embeddings\": 64", "\"max_position_embeddings\": 8"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        badInput(args("check", tv), "vectors.safetensors", "'inputs'", "sequence length 16", "max_seq_len 8");
    }

    @Test
    void tokenIdsOutOfRange() {
        Path tv = vectors();
        Raw.setInt(tv.resolve("vectors.safetensors"), "inputs", 3, 999);
        badInput(args("check", tv), "vectors.safetensors", "'inputs'", "token id 999", "vocab_size 256");
        Path run = Cli.write(tmp.resolve("r.json"), Cli.tinyRun("\"data\": {\"type\": \"inline\", \"tokens\": [1, 2, 300]}"));
        badInput(args("run", run, "--out", tmp.resolve("o")), "r.json", "data.tokens[2]", "300");
    }

    // ---- safetensors ----

    @Test
    void missingSafetensors() throws IOException {
        Path tv = vectors();
        Files.delete(tv.resolve("model.safetensors"));
        badInput(args("check", tv), tv.resolve("model.safetensors").toString(), "not found");
    }

    @Test
    void truncatedSafetensors() {
        Path tv = vectors();
        Raw.truncate(tv.resolve("model.safetensors"), 200_000);
        badInput(args("check", tv), "model.safetensors");
        Raw.truncate(tv.resolve("model.safetensors"), 5);
        badInput(args("check", tv), "model.safetensors", "too short");
    }

    @Test
    void headerLengthPastEndOfFile() {
        Path tv = vectors();
        Raw.safetensors(tv.resolve("model.safetensors"), "{}", 0);
        byte[] b = new byte[16];
        b[0] = (byte) 0xFF;
        b[1] = (byte) 0xFF;
        Raw.bytes(tv.resolve("model.safetensors"), b);
        badInput(args("check", tv), "model.safetensors", "header length", "past the end");
    }

    @Test
    void offsetsOutOfRange() {
        Path tv = vectors();
        Raw.safetensors(tv.resolve("model.safetensors"),
                "{\"transformer.wte.weight\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8000]}}", 8);
        badInput(args("check", tv), "model.safetensors", "transformer.wte.weight");
    }

    @Test
    void overlappingOffsets() {
        Path tv = vectors();
        Raw.safetensors(tv.resolve("model.safetensors"), "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                + " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12);
        badInput(args("check", tv), "model.safetensors", "overlap");
    }

    @Test
    void unsupportedDtype() {
        Path tv = vectors();
        Raw.safetensors(tv.resolve("model.safetensors"),
                "{\"transformer.wte.weight\": {\"dtype\": \"Q4\", \"shape\": [2], \"data_offsets\": [0, 1]}}", 1);
        badInput(args("check", tv), "model.safetensors", "transformer.wte.weight", "Q4");
    }

    @Test
    void tensorShapeDisagreesWithConfig() {
        Path tv = vectors();
        // 300 token ids: wte in the file is [256, 64]
        Cli.write(tv.resolve("config.json"), "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_embd\": 64, \"n_head\": 4, "
                + "\"vocab_size\": 300, \"n_positions\": 32}");
        badInput(args("check", tv), "model.safetensors", "wte", "[256, 64]");
    }

    // ---- backends, folders, --debug ----

    @Test
    void unknownBackend() {
        badInput(args("check", Cli.TESTVECTORS.resolve("gpt2-tiny"), "--backend", "cuda"), "unknown backend 'cuda'",
                "reference");
        badInput(args("check", Cli.TESTVECTORS.resolve("gpt2-tiny"), "--backend", "fake:gpu7"), "unknown device 'gpu7'");
    }

    @Test
    void missingFolder() {
        badInput(args("check", tmp.resolve("nope")), "nope", "not a test-vector folder");
    }

    @Test
    void debugPrintsTheStackTrace() {
        Path tv = vectors();
        Raw.truncate(tv.resolve("model.safetensors"), 5);
        Cli.Result r = Cli.run("check", tv, "--debug");
        assertEquals(2, r.code(), r::toString);
        assertTrue(r.err().contains("\tat "), r::toString);
    }
}
