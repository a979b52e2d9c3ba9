package io.resflow.cli;

import io.resflow.bench.Bench;
import io.resflow.bench.BenchConfig;
import io.resflow.bench.BenchReport;
import io.resflow.bench.Stats;

import static io.resflow.cli.Cli.args;
import static io.resflow.cli.Cli.badInput;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code resflow bench}: a small matrix, its reports and charts, the baseline comparison, and bad input. */
class BenchCommandTest {
    @TempDir
    Path tmp;

    private static final String MODEL = "{\"family\": \"gpt2\", \"n_layer\": 1, \"d_model\": 16, \"n_head\": 2, "
            + "\"vocab_size\": 64, \"max_seq_len\": 8}";

    private Path config(String backends) {
        Cli.write(tmp.resolve("run.json"), "{\"model\": " + MODEL + ", \"batch\": 1, \"seq_len\": 8}");
        return Cli.write(tmp.resolve("bench.json"), """
                {"name": "t", "models": ["run.json", {"name": "inline", "model": %s, "batch": 2, "seq_len": 4}],
                 "backends": [%s], "modes": ["forward", "train"], "warmup": 1, "repeats": 3,
                 "peak_gflops": {"reference": 10}}
                """.formatted(MODEL, backends));
    }

    @Test
    void matrixReportsChartsAndBaseline() throws IOException {
        Path out = tmp.resolve("b1");
        Cli.Result r = Cli.ok("bench", config("\"reference\", \"fake:*\", \"tornado:*\""), "--out", out);
        JsonNode j = Cli.json(out.resolve("bench.json"));
        JsonNode cells = j.get("cells");
        assertEquals(2 * 3 * 2, cells.size(), r::toString); // 2 models x (reference, fake:opaque, tornado) x 2 modes
        for (JsonNode c : cells) {
            if (c.get("backend").asText().startsWith("tornado")) {
                assertEquals("skipped", c.get("status").asText());
                continue;
            }
            assertEquals("ok", c.get("status").asText(), c::toString);
            assertEquals(3, c.get("times_ms").size());
            for (String f : new String[] {"median_ms", "spread_ms", "tokens_per_s", "gflops", "peak_rss_mb", "heap_peak_mb", "heap_live_mb"}) {
                assertTrue(c.get(f).asDouble() > 0 || f.equals("spread_ms"), f + " in " + c);
            }
            assertTrue(c.get("check").get("matched").asBoolean(), c::toString);
            if (c.get("backend").asText().equals("reference")) {
                assertTrue(c.get("peak_fraction").asDouble() > 0);
            } else {
                assertEquals("reference", c.get("check").get("against").asText());
            }
        }
        String md = Files.readString(out.resolve("bench.md"));
        assertTrue(md.contains("| model | backend | mode |") && md.contains("fake:opaque"), md);
        byte[] png = {(byte) 0x89, 'P', 'N', 'G'};
        for (String f : new String[] {"tokens_per_s-forward.png", "tokens_per_s-train.png", "step_ms-forward.png",
                "step_ms-train.png"}) {
            assertArrayEquals(png, Arrays.copyOf(Files.readAllBytes(out.resolve(f)), 4), f);
        }

        // a baseline where cell 0 took 1 s with no spread (now: far faster, flagged) and cell 1 took 1 s with a
        // spread of 1 s (moved by less than 3 spreads: not flagged)
        ObjectNode base = (ObjectNode) j.deepCopy();
        ((ObjectNode) base.get("cells").get(0)).put("median_ms", 1000.0).put("spread_ms", 0.0);
        ((ObjectNode) base.get("cells").get(1)).put("median_ms", 1000.0).put("spread_ms", 1000.0);
        Path baseFile = tmp.resolve("base.json");
        Files.writeString(baseFile, Cli.JSON.writeValueAsString(base));
        Path out2 = tmp.resolve("b2");
        Cli.Result r2 = Cli.ok("bench", config("\"reference\""), "--out", out2, "--baseline", baseFile);
        assertTrue(r2.out().contains("FASTER (flagged)"), r2::toString);
        JsonNode cells2 = Cli.json(out2.resolve("bench.json")).get("cells");
        assertTrue(cells2.get(0).get("baseline").get("flagged").asBoolean(), cells2::toString);
        assertTrue(cells2.get(0).get("baseline").get("ratio").asDouble() < 0.9);
        assertEquals(false, cells2.get(1).get("baseline").get("flagged").asBoolean(), cells2::toString);
        assertTrue(Files.readString(out2.resolve("bench.md")).contains("vs baseline"));
    }

    /**
     * A model above reference_max_gflop: its reference cells are skipped (the charts leave them out) and the other
     * backend is checked against jvm instead.
     */
    @Test
    void bigModelsSkipTheReferenceAndAreCheckedAgainstJvm() {
        Path cfg = Cli.write(tmp.resolve("big.json"), """
                {"models": [{"name": "small", "model": %s, "batch": 1, "seq_len": 8},
                            {"name": "big", "model": {"family": "gpt2", "n_layer": 2, "d_model": 64, "n_head": 4,
                             "vocab_size": 256, "max_seq_len": 8}, "batch": 2, "seq_len": 8}],
                 "backends": ["reference", "fake:opaque"], "modes": ["forward"], "warmup": 1, "repeats": 2,
                 "reference_max_gflop": 0.001}
                """.formatted(MODEL));
        Path out = tmp.resolve("big");
        Cli.Result r = Cli.ok("bench", cfg, "--out", out);
        JsonNode cells = Cli.json(out.resolve("bench.json")).get("cells");
        assertEquals("ok", cells.get(0).get("status").asText(), r::toString);
        assertEquals("reference", cells.get(1).get("check").get("against").asText());
        assertEquals("skipped", cells.get(2).get("status").asText());
        assertTrue(cells.get(2).get("reason").asText().contains("too slow for the reference"));
        assertEquals("jvm", cells.get(3).get("check").get("against").asText(), r::toString);
        assertTrue(cells.get(3).get("check").get("matched").asBoolean(), r::toString);
        assertTrue(Files.exists(out.resolve("tokens_per_s-forward.png")) && Files.exists(out.resolve("step_ms-forward.png")));
    }

    @Test
    void movedMeansMoreThanTenPercentAndMoreThanThreeSpreads() {
        BenchReport.Base base = new BenchReport.Base(10.0, 0.1);
        assertTrue(BenchReport.delta(cell(12.0, 0.1), base).flagged(), "+20%, spread 0.1");
        assertEquals("SLOWER", BenchReport.delta(cell(12.0, 0.1), base).verdict());
        assertEquals(false, BenchReport.delta(cell(10.5, 0.1), base).flagged(), "+5% only");
        assertEquals(false, BenchReport.delta(cell(12.0, 1.0), base).flagged(), "+20% but within 3 spreads");
        assertEquals("FASTER", BenchReport.delta(cell(5.0, 0.1), base).verdict());
        assertEquals(1.2, BenchReport.delta(cell(12.0, 0.1), base).ratio(), 1e-12);
    }

    private static Bench.Cell cell(double median, double spread) {
        Stats s = new Stats(median, spread, median, median, median, 0);
        return new Bench.Cell("m", "b", "b", "", BenchConfig.Mode.FORWARD, 1, 1, 1, "ok", null, new double[] {median}, s,
                1, null, 0, true, 0, 0, null, null);
    }

    @Test
    void aWrongBackendIsReportedAsNotMatching() {
        Path out = tmp.resolve("wrong");
        Cli.Result r = Cli.run("bench", config("\"fake:perturb=h.0.fc.b\""), "--out", out);
        assertEquals(1, r.code(), r::toString);
        assertTrue(r.out().contains("MISMATCH vs reference"), r::toString);
        JsonNode c = Cli.json(out.resolve("bench.json")).get("cells").get(0);
        assertEquals(false, c.get("check").get("matched").asBoolean());
    }

    @Test
    void badInputExits2() throws IOException {
        badInput(args("bench", config("\"cuda\""), "--out", tmp.resolve("o")), "unknown backend 'cuda'");
        badInput(args("bench", config("\"fake:gpu9\""), "--out", tmp.resolve("o")), "unknown device 'gpu9'");
        Path noModels = Cli.write(tmp.resolve("nm.json"), "{\"backends\": [\"reference\"]}");
        badInput(args("bench", noModels, "--out", tmp.resolve("o")), "nm.json", "missing field 'models'");
        Path badMode = Cli.write(tmp.resolve("bm.json"), "{\"models\": [\"run.json\"], \"backends\": [\"reference\"], "
                + "\"modes\": [\"inference\"]}");
        config("\"reference\"");
        badInput(args("bench", badMode, "--out", tmp.resolve("o")), "bm.json", "inference");
        Path missingModel = Cli.write(tmp.resolve("mm.json"), "{\"models\": [\"gone.json\"], \"backends\": [\"reference\"]}");
        badInput(args("bench", missingModel, "--out", tmp.resolve("o")), "mm.json", "models[0]", "gone.json");
        Path notBench = Cli.write(tmp.resolve("nb.json"), "{\"rows\": []}");
        badInput(args("bench", config("\"reference\""), "--out", tmp.resolve("o"), "--baseline", notBench), "nb.json",
                "'cells'");
    }
}
