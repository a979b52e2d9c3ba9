package io.resflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code resflow generate} on the test-vector models: greedy ids identical on reference and jvm (and to transformers'
 * generate(do_sample=False) when torch and transformers are importable), the stops (max_new_tokens, eos from
 * generation_config.json or config.json, max_seq_len), streamed text, seeded sampling, and bad input.
 */
class GenerateCommandTest {
    static final Path TINY = Cli.TESTVECTORS.resolve("gpt2-tiny");
    static final Path LLAMA = Cli.TESTVECTORS.resolve("llama-tiny");

    static JsonNode json(Cli.Result r) {
        List<String> lines = r.out().strip().lines().toList();
        try {
            return Cli.JSON.readTree(lines.getLast());
        } catch (IOException e) {
            throw new AssertionError("last line is not JSON: " + r, e);
        }
    }

    static List<Integer> ids(JsonNode j) {
        List<Integer> out = new ArrayList<>();
        j.get("ids").forEach(n -> out.add(n.asInt()));
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny", "gpt2-odd-noprefix", "llama-tied-headdim"})
    void greedyIdsAreTheSameOnReferenceAndJvm(String folder) {
        Path dir = Cli.TESTVECTORS.resolve(folder);
        JsonNode ref = json(Cli.ok("generate", dir, "--prompt-ids", "1,2,3", "--max-new-tokens", 12, "-b", "reference",
                "--json"));
        JsonNode jvm = json(Cli.ok("generate", dir, "--prompt-ids", "1,2,3", "--max-new-tokens", 12, "-b", "jvm",
                "--json"));
        assertEquals(ids(ref), ids(jvm));
        assertEquals(15, ids(ref).size());
        assertEquals(List.of(1, 2, 3), ids(ref).subList(0, 3));
        assertEquals("max_new_tokens", ref.get("stop").asText());
        assertEquals(12, ref.get("generated_tokens").asInt());
        assertTrue(ref.get("time_to_first_token_ms").asDouble() > 0);
        assertTrue(ref.get("decode_tokens_per_s").asDouble() > 0);
    }

    @Test
    void stopsAtTheEosOfGenerationConfigThenConfigJson(@TempDir Path tmp) throws IOException {
        List<Integer> all = ids(json(Cli.ok("generate", TINY, "--prompt-ids", "5", "--max-new-tokens", 10, "-b", "jvm",
                "--json")));
        int eos = all.get(4);
        int first = all.subList(1, all.size()).indexOf(eos) + 1;
        Path dir = Cli.copyDir(TINY, tmp.resolve("tiny"));
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [" + eos + ", 9999]}");
        JsonNode r = json(Cli.ok("generate", dir, "--prompt-ids", "5", "--max-new-tokens", 10, "-b", "jvm", "--json"));
        assertEquals("eos", r.get("stop").asText());
        assertEquals(all.subList(0, first + 1), ids(r));
        Path dir2 = Cli.copyDir(TINY, tmp.resolve("tiny2"));
        String cfg = Files.readString(dir2.resolve("config.json")).replaceFirst("\\{", "{\"eos_token_id\": " + eos + ",");
        Files.writeString(dir2.resolve("config.json"), cfg);
        assertEquals(ids(r), ids(json(Cli.ok("generate", dir2, "--prompt-ids", "5", "--max-new-tokens", 10, "--json"))));
    }

    @Test
    void stopsAtMaxSeqLen() {
        // gpt2-odd-noprefix has n_positions 24
        JsonNode r = json(Cli.ok("generate", Cli.TESTVECTORS.resolve("gpt2-odd-noprefix"), "--prompt-ids", "1,2",
                "--max-new-tokens", 100, "-b", "jvm", "--json"));
        assertEquals(24, ids(r).size());
        assertEquals("max_seq_len", r.get("stop").asText());
    }

    @Test
    void streamsTheTextAndTheJsonHasTheSameText() {
        Cli.Result text = Cli.ok("generate", TINY, "--prompt", "Hi there", "--tokenizer", "bytes", "--max-new-tokens",
                8, "-b", "jvm");
        JsonNode j = json(Cli.ok("generate", TINY, "--prompt", "Hi there", "--tokenizer", "bytes", "--max-new-tokens",
                8, "-b", "jvm", "--json"));
        List<Integer> ids = ids(j);
        byte[] prompt = "Hi there".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < prompt.length; i++) {
            assertEquals(prompt[i] & 0xff, ids.get(i));
        }
        assertEquals(("Hi there" + j.get("text").asText()).strip(), text.out().strip());
        assertTrue(text.err().contains("generate: 8 prompt + 8 generated tokens on jvm fp32 (stop: max_new_tokens)"),
                text.err());
    }

    @Test
    void seededSamplingIsReproducible() {
        Object[] a = {"generate", TINY, "--prompt-ids", "7,8", "--max-new-tokens", 16, "--temperature", "1.3",
                "--top-k", 40, "--top-p", "0.9", "-b", "jvm", "--json"};
        List<Integer> one = ids(json(Cli.ok(Cli.args(a))));
        List<Integer> two = ids(json(Cli.ok(Cli.args(a))));
        assertEquals(one, two);
        a[a.length - 5] = "0.95";
        List<Integer> other = ids(json(Cli.ok("generate", TINY, "--prompt-ids", "7,8", "--max-new-tokens", 16,
                "--temperature", "1.3", "--top-k", 40, "--top-p", "0.9", "--seed", 5, "-b", "jvm", "--json")));
        assertNotEquals(one, other);
    }

    @Test
    void badInputNamesTheField() {
        Cli.badInput(Cli.args("generate", TINY, "--prompt-ids", "1,x,3", "--max-new-tokens", 4), "--prompt-ids", "'x'");
        Cli.badInput(Cli.args("generate", TINY, "--prompt-ids", "1,300", "--max-new-tokens", 4), "--prompt-ids",
                "300", "[0, 256)");
        Cli.badInput(Cli.args("generate", TINY, "--prompt", "hi", "--max-new-tokens", 4), "--prompt", "tokenizer");
        Cli.badInput(Cli.args("generate", TINY, "--prompt", "hi", "--prompt-ids", "1", "--max-new-tokens", 4),
                "mutually exclusive");
        Cli.badInput(Cli.args("generate", TINY, "--max-new-tokens", 4), "--prompt");
        Cli.badInput(Cli.args("generate", TINY, "--prompt-ids", "1", "--max-new-tokens", -1), "--max-new-tokens");
        Cli.badInput(Cli.args("generate", TINY, "--prompt-ids", "1", "--max-new-tokens", 4, "--temperature", "-1"),
                "--temperature");
        Cli.badInput(Cli.args("generate", TINY, "--prompt-ids", "1", "--max-new-tokens", 4, "--top-p", "0"),
                "--top-p");
        Cli.badInput(Cli.args("generate", TINY, "--prompt-ids", "1", "--max-new-tokens", 4, "--top-k", "-2"),
                "--top-k");
        Cli.badInput(Cli.args("generate", TINY, "--prompt-ids",
                String.join(",", java.util.Collections.nCopies(33, "1")), "--max-new-tokens", 4), "--prompt-ids",
                "max_seq_len 32");
        Cli.badInput(Cli.args("generate", TINY.resolve("nope"), "--prompt-ids", "1", "--max-new-tokens", 4), "nope");
    }

    /**
     * transformers' generate(do_sample=False) on the same folder and prompt, when torch and transformers import.
     * (llama-tied-headdim is not among them: transformers 5 refuses its config, hidden size 40 with 3 heads and an
     * explicit head_dim 8, in its own validation.)
     */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny", "gpt2-odd-noprefix"})
    void greedyIdsEqualTransformersGenerate(String folder) throws Exception {
        Path dir = Cli.TESTVECTORS.resolve(folder);
        Process probe = new ProcessBuilder("python3", "-c", "import torch, transformers").redirectErrorStream(true)
                .start();
        boolean importable = probe.waitFor(120, TimeUnit.SECONDS) && probe.exitValue() == 0;
        if (!importable) {
            System.out.println("SKIPPED greedyIdsEqualTransformersGenerate(" + folder + "): torch and transformers "
                    + "are not importable by python3 here");
        }
        Assumptions.assumeTrue(importable, "torch and transformers are not importable by python3 here");
        Process p = new ProcessBuilder("python3", Cli.ROOT.resolve("scripts/torch_reference.py").toString(), "--model",
                dir.toString(), "--mode", "generate", "--prompt-ids", "1,2,3", "--new-tokens", "12", "--warmup", "0",
                "--repeats", "1", "--threads", "1").redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "torch_reference.py did not finish");
        assertEquals(0, p.exitValue(), out);
        JsonNode hf = Cli.JSON.readTree(out.strip().lines().toList().getLast());
        List<Integer> hfIds = new ArrayList<>();
        hf.get("ids").forEach(n -> hfIds.add(n.asInt()));
        for (String b : new String[] {"reference", "jvm"}) {
            List<Integer> mine = ids(json(Cli.ok("generate", dir, "--prompt-ids", "1,2,3", "--max-new-tokens", 12,
                    "-b", b, "--json")));
            assertEquals(hfIds, mine, folder + " on " + b + ": greedy ids differ from transformers' generate");
        }
        System.out.println("transformers " + hf.path("transformers").asText() + " generate(do_sample=False) on "
                + folder + ": " + hfIds + " = resflow reference and jvm");
    }
}
