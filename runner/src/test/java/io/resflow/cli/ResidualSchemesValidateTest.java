package io.resflow.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.resflow.model.Residual;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every residual scheme agrees between backends: {@code resflow validate --backend jvm} compares every intermediate,
 * the loss, every gradient and the parameter update with the reference, for both families.
 */
class ResidualSchemesValidateTest {
    @TempDir
    Path tmp;

    private void validate(String family, Residual scheme) {
        String model = family.equals("gpt2")
                ? "{\"family\": \"gpt2\", \"n_layer\": 3, \"d_model\": 24, \"n_head\": 3, \"vocab_size\": 61, \"max_seq_len\": 16, \"residual\": \"" + scheme.id() + "\"}"
                : "{\"family\": \"llama\", \"n_layer\": 3, \"d_model\": 32, \"n_head\": 4, \"n_kv_head\": 2, \"d_ff\": 40, \"vocab_size\": 61, \"max_seq_len\": 16, \"residual\": \"" + scheme.id() + "\"}";
        Path cfg = Cli.write(tmp.resolve(family + "-" + scheme.id() + ".json"), """
                {"model": %s, "backend": "jvm", "batch": 2, "seq_len": 11, "steps": 1, "lr": 1e-3, "seed": 5}
                """.formatted(model));
        Path out = tmp.resolve("out-" + family + "-" + scheme.id());
        Cli.Result r = Cli.ok("validate", cfg, "--backend", "jvm", "--out", out);
        assertTrue(r.out().contains("validate: PASS"), r::toString);
        JsonNode j = Cli.json(out.resolve("validate.json"));
        assertTrue(j.get("passed").asBoolean(), r::toString);
        assertTrue(j.get("rows").size() > 30, r::toString);
    }

    @ParameterizedTest
    @EnumSource(Residual.class)
    void gpt2(Residual scheme) {
        validate("gpt2", scheme);
    }

    @ParameterizedTest
    @EnumSource(Residual.class)
    void llama(Residual scheme) {
        validate("llama", scheme);
    }
}
