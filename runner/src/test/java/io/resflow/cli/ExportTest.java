package io.resflow.cli;

import io.resflow.train.ModelSource;

import static io.resflow.cli.Cli.args;
import static io.resflow.cli.Cli.badInput;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.engine.Backends;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import io.resflow.safetensors.SafeTensorsFile;
import io.resflow.text.ByteTokenizer;
import io.resflow.text.Tokenizer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;


/** {@code resflow export}: a Hugging Face folder that resflow and transformers load to the same logits. */
class ExportTest {
    @TempDir
    Path tmp;

    /** A tiny GPT-2 trained 4 steps on bytes of text, checkpoints at steps 2 and 4. */
    private Path trainedRun(String extra) {
        Cli.write(tmp.resolve("corpus.txt"), "The residual stream carries every layer's input to its output.\r\n\tÜ\n");
        Path cfg = Cli.write(tmp.resolve("tiny.json"), Cli.tinyRun(
                "\"data\": {\"type\": \"text_file\", \"path\": \"corpus.txt\"}, \"checkpoint_every\": 2" + extra));
        Path run = tmp.resolve("run");
        Cli.ok("run", cfg, "--out", run);
        return run;
    }

    static float[] logits(ModelConfig c, Params p, int[] ids) {
        try (Session s = Backends.resolve("jvm").open(c, p, 1, ids.length, SessionOptions.DEFAULT)) {
            s.forward(ids, null);
            return s.logits().clone();
        }
    }

    static final int[] IDS = {84, 104, 101, 32, 114, 101, 115, 105, 100, 117, 97, 108, 10, 9, 200, 3};

    @Test
    void exportedRunLoadsBackWithIdenticalWeightsLogitsAndTokenizer() throws IOException {
        Path run = trainedRun("");
        Path out = tmp.resolve("hf");
        Cli.Result r = Cli.ok("export", run, "--out", out);
        assertTrue(r.out().contains("to " + out + ": config.json, model.safetensors, tokenizer_config.json, tokenizer.json, generation_config.json"), r::toString);
        ModelSource src = ModelSource.fromPath(run);
        ModelSource back = ModelSource.fromPath(out);
        assertTrue(ModelSource.sameArchitecture(src.config(), back.config()));
        Params a = src.params();
        Params b = back.params();
        for (String n : a.names()) {
            assertArrayEquals(a.data(n), b.data(n), n);
        }
        int[] ids = IntStream.range(0, 16).map(i -> IDS[i]).toArray();
        assertArrayEquals(logits(src.config(), a, ids), logits(back.config(), b, ids));
        try (SafeTensorsFile st = SafeTensorsFile.open(out.resolve("model.safetensors"))) {
            assertTrue(st.has("transformer.h.0.attn.c_attn.weight"), st.names()::toString);
            assertArrayEquals(new int[] {32, 96}, st.info("transformer.h.0.attn.c_attn.weight").shape()); // Conv1D [in, out]
            assertEquals("pt", st.metadata().get("format"));
        }
        // the bytes tokenizer travels as a tokenizer.json with the same ids
        String text = Files.readString(tmp.resolve("corpus.txt"));
        try (Tokenizer t = back.openTokenizer().orElseThrow()) {
            assertArrayEquals(new ByteTokenizer().encode(text), t.encode(text));
            assertEquals(text, t.decode(t.encode(text)));
        }
        // the export is a model for a forward run, on the same data by its tokenizer
        Path fwd = Cli.write(tmp.resolve("fwd.json"), Cli.tinyRun("\"task\": \"forward\", \"data\": {\"type\": \"text_file\", "
                + "\"path\": \"corpus.txt\"}").replaceFirst("\\{\"family\"[^}]*}", "\"hf\""));
        Cli.ok("run", fwd, "--steps", "1", "--out", tmp.resolve("fwd"));
        Path fwd2 = Cli.write(tmp.resolve("fwd2.json"), Cli.tinyRun("\"task\": \"forward\", \"data\": {\"type\": \"text_file\", "
                + "\"path\": \"corpus.txt\"}").replaceFirst("\\{\"family\"[^}]*}", "\"run\""));
        Cli.ok("run", fwd2, "--steps", "1", "--out", tmp.resolve("fwd2"));
        assertEquals(Cli.jsonLines(tmp.resolve("fwd2/metrics.jsonl")).getFirst().get("loss").asDouble(),
                Cli.jsonLines(tmp.resolve("fwd/metrics.jsonl")).getFirst().get("loss").asDouble(), 0.0);
        assertTrue(Cli.json(tmp.resolve("fwd/run.json")).get("data").get("tokenizer").asText().endsWith("tokenizer.json"));
        // and it can be fine-tuned and exported again
        Cli.ok("export", out.resolve("model.safetensors"), "--out", tmp.resolve("hf2"));
        assertArrayEquals(Files.readAllBytes(out.resolve("model.safetensors")), Files.readAllBytes(tmp.resolve("hf2/model.safetensors")));
    }

    @Test
    void refusesAnExistingOutputUnlessForcedAndModelsWithoutAHuggingFaceLayout() {
        Path run = trainedRun("");
        Path out = tmp.resolve("hf");
        Cli.ok("export", run, "--out", out);
        badInput(args("export", run, "--out", out), "--out " + out, "--force");
        Cli.Result forced = Cli.ok("export", run.resolve("checkpoints/ckpt-00000002.safetensors"), "--out", out, "--force");
        assertTrue(forced.out().contains("--force: removed the earlier export results"), forced::toString);
        badInput(args("export", out, "--out", out, "--force"), "holds the weights being exported");
        Path deep = Cli.write(tmp.resolve("deep.json"), """
                {"family": "gpt2", "n_layer": 2, "d_model": 32, "n_head": 4, "vocab_size": 256, "max_seq_len": 16,
                 "residual": "deepnorm"}""");
        badInput(args("export", deep, "--out", tmp.resolve("d")), deep.toString(), "residual 'deepnorm'");
        assertFalse(Files.exists(tmp.resolve("d")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny", "llama-tied-headdim", "gpt2-odd-noprefix"})
    void testVectorFoldersRoundTrip(String name) {
        Path hf = Cli.TESTVECTORS.resolve(name);
        Path out = tmp.resolve(name);
        Cli.ok("export", hf, "--out", out);
        ModelSource a = ModelSource.fromPath(hf);
        ModelSource b = ModelSource.fromPath(out);
        assertEquals(a.config(), b.config());
        int[] ids = IntStream.range(0, 8).map(i -> (i * 37 + 5) % a.config().vocabSize()).toArray();
        assertArrayEquals(logits(a.config(), a.params(), ids), logits(b.config(), b.params(), ids));
    }

    /**
     * transformers loads each export with nothing missing or unexpected and gives resflow's float32 logits (rel_l2 <=
     * 1e-5): a trained GPT-2 run, Llama with grouped-query attention (a Hugging Face folder), and a tied Llama (a model
     * config, seeded weights). One Python process loads them all.
     */
    @Test
    void transformersLoadsTheExports() throws Exception {
        String why = transformersMissing();
        if (why != null) {
            System.out.println("SKIPPED ExportTest.transformersLoadsTheExports: " + why);
            Assumptions.abort(why);
        }
        Path tied = Cli.write(tmp.resolve("llama-tied.json"), """
                {"family": "llama", "n_layer": 2, "d_model": 32, "n_head": 4, "n_kv_head": 2, "d_ff": 48,
                 "vocab_size": 256, "max_seq_len": 16, "tie_embeddings": true, "init_seed": 9}""");
        Cli.write(tmp.resolve("gpt2-corpus.txt"), io.resflow.text.TokenizersTest.TEXT);
        Path gpt2Vocab = Cli.write(tmp.resolve("gpt2-vocab.json"), Cli.tinyRun(
                "\"data\": {\"type\": \"text_file\", \"path\": \"gpt2-corpus.txt\", \"tokenizer\": \"gpt2\"}")
                .replace("\"vocab_size\": 256", "\"vocab_size\": 50257").replace("\"steps\": 4", "\"steps\": 1"));
        Cli.ok("run", gpt2Vocab, "--out", tmp.resolve("gpt2-run"));
        List<Path> sources = List.of(trainedRun(""), Cli.TESTVECTORS.resolve("llama-tiny"), tied, tmp.resolve("gpt2-run"));
        List<String> cmd = new java.util.ArrayList<>(List.of("python3", Cli.ROOT.resolve("scripts/hf_load_check.py").toString()));
        List<float[]> ours = new java.util.ArrayList<>();
        for (int k = 0; k < sources.size(); k++) {
            Path out = tmp.resolve("hf-" + k);
            Cli.ok("export", sources.get(k), "--out", out);
            ModelSource m = ModelSource.fromPath(out);
            int[] ids = IntStream.range(0, 12).map(i -> (i * 37 + 5) % m.config().vocabSize()).toArray();
            ours.add(logits(m.config(), m.params(), ids));
            cmd.addAll(List.of(out.toString(), IntStream.of(ids).mapToObj(Integer::toString).collect(Collectors.joining(",")),
                    tmp.resolve("logits-" + k + ".f32").toString()));
        }
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", "1");
        pb.environment().put("HF_CHECK_TEXT", io.resflow.text.TokenizersTest.TEXT);
        Process p = pb.start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(600, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), log);
        for (int k = 0; k < sources.size(); k++) {
            String folder = tmp.resolve("hf-" + k).toString();
            String line = log.lines().filter(l -> l.contains("\"folder\": \"" + folder + "\"")).findFirst().orElse("");
            assertTrue(line.contains("\"problems\": {}"), log);
            // transformers' AutoTokenizer on the exported tokenizer.json gives resflow's ids
            try (var t = ModelSource.fromPath(Path.of(folder)).openTokenizer().orElse(null)) {
                if (t != null) {
                    var node = Cli.JSON.readTree(line).get("text_ids");
                    int[] theirs = new int[node.size()];
                    for (int i = 0; i < theirs.length; i++) {
                        theirs[i] = node.get(i).asInt();
                    }
                    assertArrayEquals(t.encode(io.resflow.text.TokenizersTest.TEXT), theirs, folder + " " + t.name());
                    System.out.printf("ExportTest: transformers tokenizer of %s: the same %d ids%n", sources.get(k), theirs.length);
                }
            }
            ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(tmp.resolve("logits-" + k + ".f32"))).order(ByteOrder.LITTLE_ENDIAN);
            float[] o = ours.get(k);
            assertEquals(o.length * 4, buf.capacity());
            double num = 0;
            double den = 0;
            for (float v : o) {
                double d = v - buf.getFloat();
                num += d * d;
                den += (double) v * v;
            }
            double relL2 = Math.sqrt(num / den);
            System.out.printf("ExportTest: transformers logits of the export of %s: rel_l2 %.3e%n", sources.get(k), relL2);
            assertTrue(relL2 <= 1e-5, "rel_l2 " + relL2 + "\n" + log);
        }
    }

    /** Why transformers cannot be used here, or null when python3 imports torch and transformers. */
    static String transformersMissing() {
        try {
            Process p = new ProcessBuilder("python3", "-c", "import torch, transformers, numpy").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).strip();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "python3 -c 'import torch, transformers' did not finish in 120 s";
            }
            return p.exitValue() == 0 ? null : "python3 cannot import torch and transformers: "
                    + List.of(out.split("\n")).getLast();
        } catch (IOException e) {
            return "no python3: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }
}
