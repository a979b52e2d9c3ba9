package io.resflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.resflow.check.Bf16Budget;
import io.resflow.check.Comparison;
import io.resflow.check.TestVectors;
import io.resflow.engine.Backend;
import io.resflow.engine.Backends;
import io.resflow.engine.Precision;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * resflow's bf16 against an implementation nobody here wrote: Hugging Face transformers under
 * {@code torch.autocast("cpu", dtype=torch.bfloat16)} ({@code scripts/hf_bf16_check.py}), when torch and transformers
 * import (else skipped with a printed line). On the test-vector models: the loss and the logits of resflow's bf16 run
 * (reference and jvm) within the bf16 forward budget of autocast's, and autocast's own within that budget of the
 * folder's fp32 values; greedy generate in bf16 equal to autocast's generate for as long as the fp32 model's top-1
 * margin stays above what two bf16 runs may differ by (beyond that a rounding may legitimately pick the other token,
 * and the two sequences are compared no further).
 * (llama-tied-headdim is not among them: transformers 5 refuses its config, see GenerateCommandTest.)
 */
class HfBf16Test {

    static boolean importable() throws Exception {
        Process probe = new ProcessBuilder("python3", "-c", "import torch, transformers, safetensors")
                .redirectErrorStream(true).start();
        probe.getInputStream().readAllBytes();
        return probe.waitFor(120, TimeUnit.SECONDS) && probe.exitValue() == 0;
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny", "gpt2-odd-noprefix"})
    void likeTransformersUnderAutocast(String folder) throws Exception {
        boolean ok = importable();
        if (!ok) {
            System.out.println("SKIPPED HfBf16Test(" + folder + "): torch, transformers and safetensors are not "
                    + "importable by python3 here");
        }
        Assumptions.assumeTrue(ok, "torch and transformers are not importable by python3 here");
        java.nio.file.Path dir = Cli.TESTVECTORS.resolve(folder);
        int newTokens = 12;
        Process p = new ProcessBuilder("python3", Cli.ROOT.resolve("scripts/hf_bf16_check.py").toString(),
                dir.toString(), "--prompt-ids", "1,2,3", "--new-tokens", String.valueOf(newTokens))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "hf_bf16_check.py did not finish");
        assertEquals(0, p.exitValue(), out);
        JsonNode hf = Cli.JSON.readTree(out.strip().lines().toList().getLast());
        float[] hfLogits = new float[hf.get("logits").size()];
        for (int i = 0; i < hfLogits.length; i++) {
            hfLogits[i] = (float) hf.get("logits").get(i).asDouble();
        }
        double hfLoss = hf.get("loss").asDouble();
        TestVectors tv = TestVectors.load(dir);
        Bf16Budget budget = Bf16Budget.of(tv.config());
        double eps = budget.forwardEps();
        StringBuilder report = new StringBuilder(folder + " (" + budget.describe() + "), transformers "
                + hf.path("versions").path("transformers").asText() + " under autocast:\n");

        Comparison.Row hfVsOracle = Comparison.tensor("autocast logits vs the folder's fp32", hfLogits, tv.logits(), eps);
        report.append("  ").append(hfVsOracle).append('\n');
        assertTrue(hfVsOracle.ok(), report::toString);

        List<Integer> hfIds = new ArrayList<>();
        hf.get("ids").forEach(n -> hfIds.add(n.asInt()));
        double maxAbs = 0;
        for (float x : tv.logits()) {
            maxAbs = Math.max(maxAbs, Math.abs(x));
        }
        // a step is decided when its fp32 top-1 margin exceeds twice what bf16 may move a logit by (eps max|logit|)
        int decided = 0;
        while (decided < newTokens && hf.get("margins").get(decided).asDouble() > 2 * eps * maxAbs) {
            decided++;
        }
        for (String spec : new String[] {"reference", "jvm"}) {
            Backend b = Backends.resolve(spec);
            try (Session s = b.open(tv.config(), tv.params(), tv.batch(), tv.seqLen(),
                    SessionOptions.DEFAULT.withPrecision(Precision.BF16))) {
                double loss = s.forward(tv.inputs(), tv.targets());
                Comparison.Row lg = Comparison.tensor(spec + " bf16 logits vs autocast", s.logits(), hfLogits, eps);
                Comparison.Row l = Comparison.scalar(spec + " bf16 loss vs autocast", loss, hfLoss, eps);
                report.append("  ").append(lg).append("\n  ").append(l).append('\n');
                assertTrue(lg.ok() && l.ok(), report::toString);
            }
            List<Integer> mine = GenerateCommandTest.ids(GenerateCommandTest.json(Cli.ok("generate", dir, "--prompt-ids",
                    "1,2,3", "--max-new-tokens", newTokens, "-b", spec, "--dtype", "bf16", "--json")));
            report.append("  ").append(spec).append(" bf16 greedy ").append(mine).append(", autocast ").append(hfIds)
                    .append(", decided steps ").append(decided).append(" of ").append(newTokens).append('\n');
            assertEquals(hfIds.subList(0, 3 + decided), mine.subList(0, 3 + decided), report::toString);
        }
        System.out.print(report);
    }
}
