package io.resflow.train;

import io.resflow.out.Json;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.resflow.fuzz.Findings;
import io.resflow.model.BadInputException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fuzzes the run config parser ({@link RunConfig#load}, with its model and data fields): every input is either a run
 * config whose resolved form (as run.json saves it) loads back to the same JSON, or bad input named by the file.
 * Loading allocates nothing (weights are made on first use), so huge sizes are checks, not allocations. Inputs that
 * name a path under /proc, /sys or /dev are skipped (such files can block a read; the data files are opened only by
 * run, which refuses what is not a regular file).
 */
class RunConfigFuzzTest {
    private static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory("resflow-fuzz-runconfig");
            DIR.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @FuzzTest(maxDuration = "60s")
    void runConfig(byte[] data) throws IOException {
        String text = new String(data, StandardCharsets.ISO_8859_1);
        if (text.contains("/proc") || text.contains("/sys") || text.contains("/dev")) {
            return;
        }
        Path file = DIR.resolve("fuzz.json");
        Files.write(file, data);
        RunConfig rc;
        try {
            rc = RunConfig.load(file);
        } catch (BadInputException e) {
            Findings.check(e, file.toString(), data);
            return;
        } finally {
            Files.deleteIfExists(file);
        }
        Path saved = DIR.resolve("run.json");
        Json.write(saved, rc.toJson());
        try {
            RunConfig back = RunConfig.load(saved);
            if (!back.toJson().equals(rc.toJson())) {
                throw new AssertionError("run.json does not load back: " + rc.toJson() + " -> " + back.toJson());
            }
        } finally {
            Files.deleteIfExists(saved);
        }
    }
}
