package io.resflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Runs the CLI in-process (Main.execute) and checks its exit code and messages. */
final class Cli {
    static final Path ROOT = findRoot();
    static final Path TESTVECTORS = ROOT.resolve("testvectors");
    static final ObjectMapper JSON = new ObjectMapper();

    private Cli() {
    }

    record Result(int code, String out, String err) {
        @Override
        public String toString() {
            return "exit " + code + "\n--- out:\n" + out + "\n--- err:\n" + err;
        }
    }

    static Result run(Object... args) {
        String[] a = new String[args.length];
        for (int i = 0; i < args.length; i++) {
            a[i] = args[i].toString();
        }
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), a);
        return new Result(code, out.toString(), err.toString());
    }

    /** Asserts exit 0. */
    static Result ok(Object... args) {
        Result r = run(args);
        assertEquals(0, r.code(), r::toString);
        return r;
    }

    /**
     * Asserts exit 2 with exactly one line on stderr, no stack trace, containing every fragment (e.g. the file and
     * the field).
     */
    static Result badInput(Object[] args, String... fragments) {
        Result r = run(args);
        assertEquals(2, r.code(), r::toString);
        String err = r.err().strip();
        assertEquals(1, err.lines().count(), () -> "expected one line on stderr\n" + r);
        assertFalse(err.contains("\tat ") || err.contains("Exception"), () -> "stack trace or exception name\n" + r);
        for (String f : fragments) {
            assertTrue(err.contains(f), () -> "stderr should contain '" + f + "'\n" + r);
        }
        return r;
    }

    static Object[] args(Object... a) {
        return a;
    }

    static Path write(Path file, String text) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.writeString(file, text);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static JsonNode json(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<JsonNode> jsonLines(Path file) {
        try {
            return Files.readAllLines(file).stream().map(l -> {
                try {
                    return JSON.readTree(l);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Copies a folder (one level) into a new place. */
    static Path copyDir(Path from, Path to) {
        try {
            Files.createDirectories(to);
            try (var s = Files.list(from)) {
                for (Path p : s.toList()) {
                    Files.copy(p, to.resolve(p.getFileName()));
                }
            }
            return to;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path findRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("testvectors"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the repository root (a folder with testvectors/)");
        }
        return p;
    }

    /** Writes {@code dir/tiny.json}: {@link #tinyRun} with {@code steps} steps. */
    static Path tinyRunConfig(Path dir, String extra, int steps) {
        return write(dir.resolve("tiny.json"), tinyRun(extra).replace("\"steps\": 4", "\"steps\": " + steps));
    }

    /** A tiny GPT-2 run config (B=2, T=8) with the given extra fields (JSON members, may be empty). */
    static String tinyRun(String extra) {
        return """
                {"model": {"family": "gpt2", "n_layer": 2, "d_model": 32, "n_head": 4, "vocab_size": 256, "max_seq_len": 16},
                 "backend": "reference", "batch": 2, "seq_len": 8, "steps": 4, "lr": 3e-3, "seed": 3%s}
                """.formatted(extra.isEmpty() ? "" : ", " + extra);
    }
}
