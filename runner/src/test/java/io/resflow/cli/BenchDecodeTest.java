package io.resflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code resflow bench} in decode mode: the cells' figures, their check, and prompt_len + new_tokens too long. */
class BenchDecodeTest {
    @TempDir
    Path tmp;

    private Path config(int prompt, int newTokens) {
        return Cli.write(tmp.resolve("bench-" + prompt + "-" + newTokens + ".json"), """
                {"name": "d", "models": [{"name": "tiny", "model": "%s", "seq_len": 8}],
                 "backends": ["reference", "jvm"], "modes": ["decode"], "warmup": 1, "repeats": 3,
                 "prompt_len": %d, "new_tokens": %d}
                """.formatted(Cli.TESTVECTORS.resolve("llama-tiny").toString().replace("\\", "/"), prompt, newTokens));
    }

    @Test
    void decodeCellsReportTokensPerSecondAndTimeToFirstToken() {
        Path out = tmp.resolve("b");
        Cli.Result r = Cli.ok("bench", config(5, 7), "--out", out);
        JsonNode cells = Cli.json(out.resolve("bench.json")).get("cells");
        assertEquals(2, cells.size(), r::toString);
        for (JsonNode c : cells) {
            assertEquals("ok", c.get("status").asText(), c::toString);
            assertEquals("decode", c.get("mode").asText());
            assertEquals(5, c.get("prompt_len").asInt());
            assertEquals(7, c.get("new_tokens").asInt());
            assertEquals(1, c.get("batch").asInt());
            double median = c.get("median_ms").asDouble();
            assertEquals(7 / (median / 1e3), c.get("tokens_per_s").asDouble(), 1e-9 * c.get("tokens_per_s").asDouble());
            assertTrue(c.get("ttft_ms").asDouble() > 0 && c.get("ttft_ms").asDouble() < median, c::toString);
            assertTrue(c.get("decode_tokens_per_s").asDouble() > 0, c::toString);
            assertTrue(c.get("check").get("matched").asBoolean(), c::toString);
        }
        assertTrue(r.out().contains("time to first token"), r::toString);
    }

    @Test
    void promptAndNewTokensMustFitMaxSeqLen() {
        // llama-tiny has max_position_embeddings 64
        Cli.badInput(Cli.args("bench", config(60, 5), "--out", tmp.resolve("b2")), "prompt_len 60", "new_tokens 5",
                "max_seq_len 64");
    }
}
