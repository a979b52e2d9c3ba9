package io.resflow.cli.ablation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resflow.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A small ablation (32 layers, a few steps): without the skip path the gradient reaching the first layer collapses.
 * Asserted from the numbers the command wrote: the first-to-last ratio of residual-gradient norms after the steps
 * is at least 100 times smaller under 'none' than under 'pre'. The other schemes are reported, not asserted.
 */
class AblationCommandTest {

    @Test
    void noSkipPathStarvesTheFirstLayers(@TempDir Path tmp) throws Exception {
        Path cfg = tmp.resolve("abl32.json");
        Files.writeString(cfg, """
                {"model": {"family": "gpt2", "n_layer": 32, "d_model": 32, "n_head": 4, "vocab_size": 64, "max_seq_len": 32},
                 "backend": "auto", "batch": 2, "seq_len": 16, "steps": 4, "lr": 3e-3, "weight_decay": 0.0, "seed": 1}
                """);
        Path out = tmp.resolve("out");
        StringWriter so = new StringWriter();
        StringWriter se = new StringWriter();
        int code = Main.execute(new PrintWriter(so, true), new PrintWriter(se, true), "ablation", cfg.toString(),
                "--out", out.toString(), "--threshold", "3.5");
        assertEquals(0, code, so + "\n" + se);

        JsonNode root = new ObjectMapper().readTree(out.resolve("ablation.json").toFile());
        Map<String, Double> ratio = new HashMap<>();
        for (JsonNode s : root.get("schemes")) {
            ratio.put(s.get("scheme").asText(), s.get("first_to_last_residual_grad_ratio").asDouble());
            assertEquals(32, s.get("residual_grad_norm_final").size());
            assertEquals(32, s.get("param_grad_norm_init").size());
            assertEquals(4, s.get("losses").size());
        }
        assertEquals(5, ratio.size(), "all five schemes ran: " + ratio);
        assertTrue(ratio.get("pre") > 0 && Double.isFinite(ratio.get("pre")), "pre ratio " + ratio.get("pre"));
        assertTrue(ratio.get("none") * 100 <= ratio.get("pre"),
                "expected none's first/last residual-gradient ratio to be >= 100x smaller than pre's: " + ratio);

        for (String png : new String[] {"loss.png", "residual-grad-init.png", "residual-grad-final.png",
                "param-grad-init.png", "param-grad-final.png"}) {
            byte[] head = Files.readAllBytes(out.resolve(png));
            assertTrue(head.length > 1000 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G', png + " is not a PNG");
        }
        String summary = Files.readString(out.resolve("summary.md"));
        assertTrue(summary.contains("| none |") && summary.contains("| pre |"), summary);
    }

    /**
     * --dtype fp32,bf16: every scheme in both, named "pre fp32", "pre bf16" in the results; the bf16 losses follow the
     * fp32 ones (within 2% at every step of a 16-layer run) and the skip path keeps the first layers' gradient in bf16
     * as in fp32.
     */
    @Test
    void bf16BesideFp32(@TempDir Path tmp) throws Exception {
        Path cfg = tmp.resolve("abl16.json");
        Files.writeString(cfg, """
                {"model": {"family": "gpt2", "n_layer": 16, "d_model": 32, "n_head": 4, "vocab_size": 64, "max_seq_len": 32},
                 "backend": "jvm", "batch": 2, "seq_len": 16, "steps": 6, "lr": 3e-3, "weight_decay": 0.0, "seed": 1}
                """);
        Path out = tmp.resolve("out");
        StringWriter so = new StringWriter();
        StringWriter se = new StringWriter();
        int code = Main.execute(new PrintWriter(so, true), new PrintWriter(se, true), "ablation", cfg.toString(),
                "--out", out.toString(), "--schemes", "pre,none", "--dtype", "fp32,bf16");
        assertEquals(0, code, so + "\n" + se);
        JsonNode root = new ObjectMapper().readTree(out.resolve("ablation.json").toFile());
        assertEquals("[\"fp32\",\"bf16\"]", root.get("dtypes").toString());
        Map<String, JsonNode> by = new HashMap<>();
        for (JsonNode s : root.get("schemes")) {
            by.put(s.get("scheme").asText(), s);
        }
        assertEquals(java.util.Set.of("pre fp32", "pre bf16", "none fp32", "none bf16"), by.keySet());
        JsonNode f = by.get("pre fp32").get("losses");
        JsonNode b = by.get("pre bf16").get("losses");
        for (int i = 0; i < f.size(); i++) {
            assertEquals(f.get(i).asDouble(), b.get(i).asDouble(), 0.02 * f.get(i).asDouble(), "step " + i);
        }
        assertTrue(by.get("none bf16").get("first_to_last_residual_grad_ratio").asDouble() * 100
                <= by.get("pre bf16").get("first_to_last_residual_grad_ratio").asDouble(), "bf16: the skip path");
    }
}
