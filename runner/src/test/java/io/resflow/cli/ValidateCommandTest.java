package io.resflow.cli;

import static io.resflow.cli.Cli.args;
import static io.resflow.cli.Cli.badInput;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code resflow validate}: passes for a backend that computes what the reference computes, names the first layer
 * and tensor where a (deliberately) wrong backend diverges, and says which intermediates a backend did not expose.
 * The wrong backends are test-only ({@link FakeBackendProvider}).
 */
class ValidateCommandTest {
    @TempDir
    Path tmp;

    private Path config() {
        return Cli.write(tmp.resolve("v.json"), Cli.tinyRun(""));
    }

    @Test
    void sameComputationPasses() {
        Path out = tmp.resolve("ok");
        Cli.Result r = Cli.ok("validate", config(), "--backend", "reference", "--out", out);
        assertTrue(r.out().contains("validate: PASS"), r::toString);
        JsonNode j = Cli.json(out.resolve("validate.json"));
        assertTrue(j.get("passed").asBoolean());
        assertTrue(j.get("first_divergence").isNull());
        // per layer: ln1, attn_out, resid_mid, ln2, mlp_out, resid_out; plus embed, lnf, logits
        assertEquals(2 * 6 + 3, j.get("counts").get("forward").get("total").asInt());
        assertEquals(0, j.get("not_exposed").size());
        assertTrue(j.get("rows").size() > 40);
    }

    @Test
    void namesTheFirstLayerAndTensorThatDiverges() {
        // layer 1's MLP input bias is off: everything before layer 1's MLP matches, its output does not
        Path out = tmp.resolve("bad");
        Cli.Result r = Cli.run("validate", config(), "--backend", "fake:perturb=h.1.fc.b", "--out", out);
        assertEquals(1, r.code(), r::toString);
        assertTrue(r.out().contains("first divergence: layer 1, h.1.mlp_out"), r::toString);
        JsonNode f = Cli.json(out.resolve("validate.json")).get("first_divergence");
        assertEquals("h.1.mlp_out", f.get("tensor").asText());
        assertEquals(1, f.get("layer").asInt());
        assertEquals("forward", f.get("section").asText());
    }

    @Test
    void reportsIntermediatesThatAreNotExposed() {
        Path out = tmp.resolve("opaque");
        Cli.Result r = Cli.ok("validate", config(), "--backend", "fake:opaque", "--out", out);
        assertTrue(r.out().contains("not exposed by fake:opaque: 14 intermediates"), r::toString);
        JsonNode j = Cli.json(out.resolve("validate.json"));
        assertEquals(14, j.get("not_exposed").size());
        assertTrue(j.get("passed").asBoolean());
    }

    @Test
    void badInputExits2() {
        badInput(args("validate", config(), "--backend", "nope", "--out", tmp.resolve("o")), "unknown backend 'nope'");
        badInput(args("validate", config(), "--backend", "reference", "--seq-len", "99", "--out", tmp.resolve("o")),
                "--seq-len", "max_seq_len");
        badInput(args("validate", tmp.resolve("none.json"), "--backend", "reference"), "none.json", "not found");
        Cli.Result r = Cli.run("validate", config());
        assertEquals(2, r.code(), r::toString);
        assertTrue(r.err().contains("--backend"), r::toString);
    }
}
