package io.resflow.cli;

import io.resflow.train.Checkpoints;
import io.resflow.train.ModelSource;

import static io.resflow.cli.Cli.args;
import static io.resflow.cli.Cli.badInput;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.model.BadInputException;
import io.resflow.model.Params;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MODEL as a model config, a model folder, a run folder or a checkpoint; fine-tuning from weights. */
class ModelSourceTest {
    @TempDir
    Path tmp;

    private Path trainedRun() {
        Cli.write(tmp.resolve("corpus.txt"), "The residual stream carries every layer's input to its output.\n");
        Path cfg = Cli.write(tmp.resolve("tiny.json"), Cli.tinyRun(
                "\"data\": {\"type\": \"text_file\", \"path\": \"corpus.txt\"}, \"checkpoint_every\": 2"));
        Path run = tmp.resolve("run");
        Cli.ok("run", cfg, "--out", run);
        return run;
    }

    private static void assertSameParams(Params a, Params b) {
        assertEquals(a.names(), b.names());
        for (String n : a.names()) {
            assertArrayEquals(a.data(n), b.data(n), n);
        }
    }

    @Test
    void runFolderAndCheckpointGiveTheNewestVerifiedWeights() throws IOException {
        Path run = trainedRun();
        Path ckpt = run.resolve("checkpoints/ckpt-00000004.safetensors");
        ModelSource fromRun = ModelSource.fromPath(run);
        ModelSource fromCkpt = ModelSource.fromPath(ckpt);
        assertEquals(ckpt.toAbsolutePath().normalize(), fromRun.weightsPath());
        assertEquals(fromRun.config(), fromCkpt.config());
        assertSameParams(Checkpoints.load(ckpt, fromRun.config()).params(), fromRun.params());
        assertSameParams(fromRun.params(), fromCkpt.params());
        assertEquals("bytes", fromRun.tokenizer());
        assertEquals("bytes", fromCkpt.tokenizer());
        assertTrue(fromRun.pretrained());

        // the newest checkpoint damaged: the run folder falls back to the older one, the file itself is refused
        try (var ch = Files.newByteChannel(ckpt, StandardOpenOption.WRITE)) {
            ch.position(Files.size(ckpt) - 4);
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3, 4}));
        }
        assertEquals(run.resolve("checkpoints/ckpt-00000002.safetensors").toAbsolutePath().normalize(),
                ModelSource.fromPath(run).weightsPath());
        var e = assertThrows(BadInputException.class, () -> ModelSource.fromPath(ckpt));
        assertTrue(e.getMessage().startsWith(ckpt + ": the checkpoint does not verify: checksum mismatch"), e.getMessage());
    }

    @Test
    void modelFolderAndConfigs() {
        Path hf = Cli.TESTVECTORS.resolve("gpt2-tiny");
        ModelSource folder = ModelSource.fromPath(hf);
        assertTrue(folder.pretrained());
        assertNull(folder.tokenizer());
        assertEquals(List.of(), folder.eosIds());
        ModelSource weightsFile = ModelSource.fromPath(hf.resolve("model.safetensors"));
        assertSameParams(folder.params(), weightsFile.params());
        ModelSource config = ModelSource.fromPath(hf.resolve("config.json"));
        assertEquals(folder.config(), config.config());
        assertEquals(false, config.pretrained());
        assertEquals("gpt2-tiny", config.name());
    }

    @Test
    void badModelsNameTheFile() throws IOException {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        var e = assertThrows(BadInputException.class, () -> ModelSource.fromPath(empty));
        assertTrue(e.getMessage().startsWith(empty + ": folder has neither config.json"), e.getMessage());
        Path junk = Cli.write(tmp.resolve("junk.safetensors"), "not a safetensors file at all");
        var e2 = assertThrows(BadInputException.class, () -> ModelSource.fromPath(junk));
        assertTrue(e2.getMessage().startsWith(junk.toString()), e2.getMessage());
        Path noRunJsonCkpts = Files.createDirectories(tmp.resolve("r"));
        Cli.write(noRunJsonCkpts.resolve("run.json"), Cli.tinyRun(""));
        var e3 = assertThrows(BadInputException.class, () -> ModelSource.fromPath(noRunJsonCkpts));
        assertTrue(e3.getMessage().contains("no checkpoint"), e3.getMessage());
        Path eos = Files.createDirectories(tmp.resolve("eos"));
        Files.copy(Cli.TESTVECTORS.resolve("gpt2-tiny/config.json"), eos.resolve("config.json"));
        Cli.write(eos.resolve("generation_config.json"), "{\"eos_token_id\": \"x\"}");
        var e4 = assertThrows(BadInputException.class, () -> ModelSource.fromPath(eos));
        assertTrue(e4.getMessage().startsWith(eos.resolve("generation_config.json") + ": field 'eos_token_id'"), e4.getMessage());
        Cli.write(eos.resolve("generation_config.json"), "{\"eos_token_id\": [3, 7]}");
        assertEquals(List.of(3, 7), ModelSource.fromPath(eos).eosIds());
    }

    /**
     * A run config whose model is a run folder starts from its weights with a fresh optimizer (the header says so):
     * its first loss is the forward loss of those weights, not of the seeded init; the saved run.json names the
     * weights so that a restart starts from them again.
     */
    @Test
    void fineTuneFromARunFolderCheckpointOrModelFolder() {
        Path run = trainedRun();
        Path ckpt = run.resolve("checkpoints/ckpt-00000004.safetensors");
        String data = "\"data\": {\"type\": \"text_file\", \"path\": \"corpus.txt\"}";
        Path fwd = Cli.write(tmp.resolve("fwd.json"), Cli.tinyRun(data + ", \"task\": \"forward\"")
                .replaceFirst("\\{\"family\"[^}]*}", "\"run/checkpoints/ckpt-00000004.safetensors\""));
        Cli.ok("run", fwd, "--steps", "1", "--out", tmp.resolve("fwd"));
        double forwardLoss = Cli.jsonLines(tmp.resolve("fwd/metrics.jsonl")).getFirst().get("loss").asDouble();
        double seededLoss = Cli.jsonLines(run.resolve("metrics.jsonl")).getFirst().get("loss").asDouble();
        assertNotEquals(seededLoss, forwardLoss);

        for (String model : List.of("run", "run/checkpoints/ckpt-00000004.safetensors")) {
            Path ft = Cli.write(tmp.resolve("ft.json"), Cli.tinyRun(data).replaceFirst("\\{\"family\"[^}]*}", "\"" + model + "\""));
            Path out = tmp.resolve("ft-" + model.replace('/', '-'));
            Cli.Result r = Cli.ok("run", ft, "--steps", "2", "--out", out);
            assertTrue(r.out().contains("weights: " + ckpt.toAbsolutePath().normalize()
                    + " (fine-tuning from these weights with a fresh optimizer; init_seed unused)")
                    || r.out().contains("weights: " + ckpt + " (fine-tuning"), r::toString);
            assertEquals(forwardLoss, Cli.jsonLines(out.resolve("metrics.jsonl")).getFirst().get("loss").asDouble(), 0.0);
            assertEquals(ckpt.toAbsolutePath().normalize().toString(), Cli.json(out.resolve("run.json")).get("weights").asText());
            // a restart starts from the same weights again
            Cli.ok("run", "--restart", out, "--force");
            assertEquals(forwardLoss, Cli.jsonLines(out.resolve("metrics.jsonl")).getFirst().get("loss").asDouble(), 0.0);
        }
        // a fine-tuning run stopped and resumed has the losses of one that ran through
        Path ft = Cli.write(tmp.resolve("ft3.json"), Cli.tinyRun(data + ", \"checkpoint_every\": 1")
                .replaceFirst("\\{\"family\"[^}]*}", "\"run\""));
        Cli.ok("run", ft, "--steps", "3", "--out", tmp.resolve("through"));
        Cli.ok("run", ft, "--steps", "3", "--stop-after", "1", "--out", tmp.resolve("resumed"));
        Cli.Result resumed = Cli.ok("run", "--resume", tmp.resolve("resumed"));
        assertTrue(resumed.out().contains("resuming from "), resumed::toString);
        assertEquals(Cli.jsonLines(tmp.resolve("through/metrics.jsonl")).stream().map(n -> n.get("loss").asDouble()).toList(),
                Cli.jsonLines(tmp.resolve("resumed/metrics.jsonl")).stream().map(n -> n.get("loss").asDouble()).toList());
        // weights of another model are refused, naming the field
        Path other = Cli.write(tmp.resolve("other.json"), Cli.tinyRun(data + ", \"weights\": \""
                + Cli.TESTVECTORS.resolve("gpt2-tiny") + "\""));
        badInput(args("run", other, "--out", tmp.resolve("o")), other + ": field 'weights'", "another model");
    }
}
