package io.resflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bench matrix split into cells (issue 24: one Slurm array task per cell): {@code --list-cells} numbers them,
 * {@code --cell I} runs one, {@code --merge CELLS} writes the reports of all; the merged bench.json, bench.md and
 * charts have the structure of one local run's: the same fields in the same order, the same cells in the same
 * order with the same non-timing values (timings differ between runs, so only their kind and count are compared).
 * Each merged cell keeps its own run's values. The matrix has every kind of cell: forward, train, decode, and a
 * skipped backend.
 */
class BenchCellsTest {
    @TempDir
    Path tmp;

    static Path config(Path dir) {
        return Cli.write(dir.resolve("cells.json"), """
                {"name": "cells", "models": [{"name": "tiny", "model": "%s", "batch": 1, "seq_len": 8}],
                 "backends": ["reference", "tornado:*"], "modes": ["forward", "train", "decode"], "warmup": 1,
                 "repeats": 2, "prompt_len": 3, "new_tokens": 3}
                """.formatted(Cli.TESTVECTORS.resolve("llama-tiny").toString().replace("\\", "/")));
    }

    static final int CELLS = 6;

    @Test
    void cellsRunApartAndMergedGiveTheReportsOfOneRun() throws IOException {
        Path cfg = config(tmp);
        Path whole = tmp.resolve("whole");
        Cli.ok("bench", cfg, "--out", whole);
        Cli.Result list = Cli.ok("bench", cfg, "--list-cells");
        assertEquals(List.of("0 tiny reference forward", "1 tiny reference train", "2 tiny reference decode",
                "3 tiny tornado:* forward", "4 tiny tornado:* train", "5 tiny tornado:* decode"),
                list.out().lines().toList());
        Path cells = tmp.resolve("cells");
        for (int i = 0; i < CELLS; i++) {
            Cli.Result r = Cli.ok("bench", cfg, "--cell", i, "--out", cells.resolve(Integer.toString(i)));
            assertTrue(r.out().contains("only cell " + list.out().lines().toList().get(i) + " of 6"), r::toString);
            assertEquals(1, Cli.json(cells.resolve(i + "/bench.json")).get("cells").size());
        }
        Path merged = tmp.resolve("merged");
        Cli.Result m = Cli.ok("bench", cfg, "--merge", cells, "--out", merged);
        assertTrue(m.out().contains("bench cells: 6 cells merged from " + cells), m::toString);
        assertSameReports(whole, merged);
        assertCellsKept(cells, merged);
    }

    /** Each merged cell is the cell its own run wrote, value for value. */
    static void assertCellsKept(Path cells, Path merged) {
        JsonNode m = Cli.json(merged.resolve("bench.json")).get("cells");
        for (int i = 0; i < CELLS; i++) {
            assertEquals(Cli.json(cells.resolve(i + "/bench.json")).get("cells").get(0), m.get(i), "cell " + i);
        }
    }

    /** The merged folder has the local run's files, bench.json of the same shape, bench.md the same but numbers. */
    static void assertSameReports(Path whole, Path merged) throws IOException {
        assertEquals(files(whole), files(merged));
        JsonNode a = Cli.json(whole.resolve("bench.json"));
        JsonNode b = Cli.json(merged.resolve("bench.json"));
        assertEquals(CELLS, a.get("cells").size());
        assertSameShape(a, b, "bench.json");
        assertEquals(numbersMasked(whole.resolve("bench.md")), numbersMasked(merged.resolve("bench.md")));
    }

    private static List<String> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
        }
    }

    private static String numbersMasked(Path md) throws IOException {
        return Files.readString(md).replaceAll("[0-9][0-9.,]*", "#");
    }

    /**
     * Same field names in the same order, same array lengths, same strings and booleans (but the run's time), a
     * number or null where the other has a number or null.
     */
    static void assertSameShape(JsonNode a, JsonNode b, String where) {
        if (a.isObject()) {
            assertTrue(b.isObject(), where + ": " + b);
            List<String> fa = new ArrayList<>();
            List<String> fb = new ArrayList<>();
            a.fieldNames().forEachRemaining(fa::add);
            b.fieldNames().forEachRemaining(fb::add);
            assertEquals(fa, fb, where);
            for (String f : fa) {
                assertSameShape(a.get(f), b.get(f), where + "." + f);
            }
        } else if (a.isArray()) {
            assertTrue(b.isArray(), where + ": " + b);
            assertEquals(a.size(), b.size(), where);
            for (int i = 0; i < a.size(); i++) {
                assertSameShape(a.get(i), b.get(i), where + "[" + i + "]");
            }
        } else if (a.isNumber() || b.isNumber()) {
            assertTrue((a.isNumber() || a.isNull()) && (b.isNumber() || b.isNull()), where + ": " + a + " vs " + b);
        } else if (!where.equals("bench.json.time")) {
            assertEquals(a, b, where);
        }
    }

    @Test
    void aMergeOfMissingOrWrongCellsIsRefusedNamingTheFile() {
        Path cfg = config(tmp);
        Path cells = tmp.resolve("cells");
        Cli.ok("bench", cfg, "--cell", 0, "--out", cells.resolve("0"));
        Cli.badInput(Cli.args("bench", cfg, "--merge", cells, "--out", tmp.resolve("m1")),
                cells.resolve("1/bench.json") + ": not found: cell 1 tiny reference train of 6", "--cell 1");
        Cli.ok("bench", cfg, "--cell", 0, "--out", cells.resolve("1"));
        Cli.badInput(Cli.args("bench", cfg, "--merge", cells, "--out", tmp.resolve("m2")),
                cells.resolve("1/bench.json") + ": field 'cells' must hold cell 1 tiny reference train",
                "(tiny reference forward)");
        assertTrue(!Files.exists(tmp.resolve("m1")) && !Files.exists(tmp.resolve("m2")), "nothing written");
        Cli.badInput(Cli.args("bench", cfg, "--cell", 6, "--out", tmp.resolve("c6")), "--cell 6", "has 6 cells");
        Cli.badInput(Cli.args("bench", cfg, "--cell", 0, "--merge", cells, "--out", tmp.resolve("x")),
                "give at most one");
    }
}
