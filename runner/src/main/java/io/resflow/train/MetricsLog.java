package io.resflow.train;

import io.resflow.out.Json;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resflow.model.BadInputException;
import io.resflow.model.IoErrors;
import io.resflow.model.RuntimeFailure;
import io.resflow.safetensors.SafeTensorsWriter;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/** {@code metrics.jsonl}: one JSON object per step, appended and flushed as each step ends. */
public final class MetricsLog implements AutoCloseable {
    public static final String FILE = "metrics.jsonl";
    private final BufferedWriter w;
    private final Path file;

    private MetricsLog(BufferedWriter w, Path file) {
        this.w = w;
        this.file = file;
    }

    public static MetricsLog append(Path runDir) {
        try {
            return new MetricsLog(Files.newBufferedWriter(runDir.resolve(FILE), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND), runDir.resolve(FILE));
        } catch (IOException e) {
            throw new RuntimeFailure(runDir.resolve(FILE) + ": cannot write: " + IoErrors.describe(e), e);
        }
    }

    /**
     * Keeps only the lines of steps up to {@code step} (a resumed run rewrites the steps after its checkpoint);
     * an unparseable trailing line (a write cut short by a kill) is dropped too.
     */
    public static void truncateAfter(Path runDir, int step) {
        Path f = runDir.resolve(FILE);
        List<String> keep = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                JsonNode n;
                try {
                    n = io.resflow.model.ModelConfigs.parseJson(line, f.toString());
                } catch (BadInputException e) {
                    continue;
                }
                if (n.path("step").asInt(Integer.MAX_VALUE) <= step) {
                    keep.add(line);
                }
            }
        } catch (NoSuchFileException e) {
            return;
        } catch (IOException e) {
            throw new BadInputException(f + ": cannot read: " + IoErrors.describe(e), e);
        }
        StringBuilder sb = new StringBuilder();
        keep.forEach(l -> sb.append(l).append('\n'));
        SafeTensorsWriter.writeAtomically(f, sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    public void write(Trainer.Step s, boolean train) {
        ObjectNode o = Json.object();
        o.put("step", s.step());
        Json.put(o, "loss", s.loss());
        if (train) {
            Json.put(o, "grad_norm", s.gradNorm());
            o.put("lr", s.lr());
            if (s.clipScale() != 1.0) {
                o.put("clip_scale", s.clipScale());
            }
        }
        o.put("step_ms", Math.round(s.ms() * 1000) / 1000.0);
        o.put("tokens_per_s", Math.round(s.tokensPerSecond()));
        if (!Double.isNaN(s.allreduceMs())) {
            o.put("allreduce_ms", Math.round(s.allreduceMs() * 1000) / 1000.0);
        }
        try {
            w.write(Json.line(o));
            w.write('\n');
            w.flush();
        } catch (IOException e) {
            throw new RuntimeFailure(file + ": cannot write: " + IoErrors.describe(e), e);
        }
    }

    @Override
    public void close() {
        try {
            w.close();
        } catch (IOException e) {
            throw new RuntimeFailure(file + ": cannot write: " + IoErrors.describe(e), e);
        }
    }
}
