package io.resflow.model;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import io.resflow.fuzz.Findings;
import java.nio.charset.StandardCharsets;

/**
 * Fuzzes the model config parsers (the project's schema and Hugging Face config.json): every input is either a
 * config whose sizes fit (its parameter count is computed without overflow) and which reads back from its own JSON
 * as the same config, or bad input named by the file.
 */
class ModelConfigFuzzTest {
    private static final String NAME = "fuzz.json";

    @FuzzTest(maxDuration = "60s")
    void modelConfig(byte[] data) {
        ModelConfig c;
        try {
            JsonNode root = ModelConfigs.parseJson(new String(data, StandardCharsets.UTF_8), NAME);
            c = ModelConfigs.isHf(root) ? ModelConfigs.fromHf(root, NAME) : ModelConfigs.fromJson(root, NAME);
        } catch (BadInputException e) {
            Findings.check(e, NAME, data);
            return;
        }
        if (c.parameterCount() <= 0) {
            throw new AssertionError("no parameters: " + c);
        }
        ModelConfig back = ModelConfigs.fromJson(ModelConfigs.toJson(c), "round trip");
        if (!back.equals(c)) {
            throw new AssertionError("toJson does not read back: " + c + " -> " + back);
        }
    }
}
