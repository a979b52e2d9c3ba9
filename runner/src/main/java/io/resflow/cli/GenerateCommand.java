package io.resflow.cli;

import io.resflow.cli.options.ResflowCommand;
import io.resflow.cli.options.ModelArgument;
import io.resflow.cli.options.BackendOption;
import io.resflow.cli.options.OptionTypes;
import io.resflow.out.Json;
import io.resflow.train.ModelSource;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resflow.engine.Backend;
import io.resflow.engine.Backends;
import io.resflow.engine.Decoder;
import io.resflow.engine.Generator;
import io.resflow.engine.Sampling;
import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.text.Tokenizer;
import io.resflow.text.Tokenizers;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code resflow generate MODEL --prompt TEXT | --prompt-ids IDS --max-new-tokens N}: text out, with a KV cache. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Generate text from a prompt with a KV cache (greedy or sampled).",
        description = {"""
                Encodes the prompt with the model's tokenizer (a model folder's tokenizer.json, a run's data \
                tokenizer, or --tokenizer), prefills it, then decodes one token at a time on the backend, keeping \
                every position's keys and values (the prefix is never recomputed). Stops after --max-new-tokens, \
                at the end-of-sequence id the folder's generation_config.json or config.json names (as \
                transformers does), or at the model's max_seq_len.""", """
                Prints the prompt and the text as it is generated, then a summary line on stderr. With --json \
                prints instead one JSON object on one line: ids (the prompt ids, then the generated ids), text, \
                stop, timings.""", """
                Exit 0 done, 2 bad input, 3 a runtime failure."""})
final class GenerateCommand extends ResflowCommand {
    @Mixin
    ModelArgument model;

    @Mixin
    io.resflow.cli.options.DtypeOption dtype;

    static final class Prompt {
        @Option(names = "--prompt", paramLabel = "TEXT", description = "The prompt text (needs a tokenizer).")
        String text;

        @Option(names = "--prompt-ids", paramLabel = "IDS", description = "The prompt as token ids, e.g. 1,2,3.")
        String ids;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Prompt prompt;

    @Option(names = "--max-new-tokens", required = true, paramLabel = "N",
            converter = OptionTypes.NonNegativeInt.class, description = "Tokens to generate at most (0 or more).")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "0", paramLabel = "T",
            description = "0 (default): greedy; above 0: sample from softmax(logits / T).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "0", paramLabel = "K",
            description = "Sample only among the K most likely tokens (0, the default: all).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1", paramLabel = "P",
            description = "Sample only among the most likely tokens whose probabilities sum to P (1, the default: all).")
    double topP;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Seed of the sampling (default 0).")
    long seed;

    @Mixin
    BackendOption.Defaulted backend = new BackendOption.Defaulted("auto");

    @Option(names = "--tokenizer", paramLabel = "SPEC",
            description = "Overrides the model's tokenizer: gpt2, bytes, or a tokenizer.json (or a folder holding one).")
    String tokenizer;

    @Option(names = "--json", description = "Print one JSON line (ids, text, stop, timings) instead of the text.")
    boolean json;

    @Override
    protected int run(PrintWriter out) {
        PrintWriter err = spec.commandLine().getErr();
        ModelSource src = model.open();
        ModelConfig c = src.config();
        Sampling sampling = new Sampling(temperature, topK, topP, seed);
        Optional<Tokenizer> tok = tokenizer != null
                ? Optional.of(Tokenizers.resolve(tokenizer, null, "--tokenizer"))
                : src.openTokenizer();
        try (Tokenizer t = tok.orElse(null)) {
            int[] ids = promptIds(c, t);
            Backend b = backend.resolve();
            io.resflow.engine.Precision precision = dtype.precision();
            b.requirePrecision(precision);
            Set<Integer> eos = new HashSet<>(src.eosIds());
            int cap = (int) Math.min(c.maxSeqLen(), (long) ids.length + Math.max(1, maxNewTokens));
            Stream stream = json ? null : new Stream(out, t);
            if (stream != null) {
                stream.prompt(ids);
            }
            Generator.Result r;
            long t0 = System.nanoTime();
            try (Decoder d = b.openDecoder(c, src.params(), cap, precision)) {
                long opened = System.nanoTime();
                r = Generator.generate(d, ids, maxNewTokens, sampling, eos, stream == null ? null : stream::token);
                double total = (System.nanoTime() - opened) / 1e6;
                int[] gen = java.util.Arrays.copyOfRange(r.ids(), ids.length, r.ids().length);
                if (stream != null) {
                    stream.end();
                    err.printf(java.util.Locale.ROOT, "generate: %d prompt + %d generated tokens on %s %s (stop: %s); "
                            + "time to first token %.1f ms, %s%n", ids.length, r.generated(), b.id(), precision, r.stop(),
                            r.prefillNanos() / 1e6, rate(r));
                } else {
                    ObjectNode o = Json.object();
                    ArrayNode a = o.putArray("ids");
                    for (int id : r.ids()) {
                        a.add(id);
                    }
                    o.put("prompt_tokens", ids.length);
                    o.put("generated_tokens", r.generated());
                    if (t != null) {
                        o.put("text", t.decode(gen));
                    }
                    o.put("stop", r.stop());
                    o.put("backend", b.id());
                    o.put("model", src.name());
                    o.put("weights", src.weightsFrom());
                    Json.put(o, "open_ms", (opened - t0) / 1e6);
                    Json.put(o, "time_to_first_token_ms", r.prefillNanos() / 1e6);
                    Json.put(o, "decode_ms", r.decodeNanos() / 1e6);
                    Json.put(o, "decode_tokens_per_s", r.decodeTokensPerSecond());
                    Json.put(o, "total_ms", total);
                    out.println(Json.line(o));
                }
            }
        }
        out.flush();
        return Main.OK;
    }

    private static String rate(Generator.Result r) {
        double tps = r.decodeTokensPerSecond();
        return Double.isFinite(tps) ? String.format(java.util.Locale.ROOT, "%.2f tokens/s after it", tps)
                : "no decode steps after it";
    }

    private int[] promptIds(ModelConfig c, Tokenizer t) {
        int[] ids;
        String opt;
        if (prompt.text != null) {
            opt = "--prompt";
            if (t == null) {
                throw new BadInputException("--prompt: " + model + " names no tokenizer (no tokenizer.json, no run "
                        + "data tokenizer): give --tokenizer gpt2|bytes|PATH, or the ids with --prompt-ids");
            }
            ids = t.encode(prompt.text);
            if (ids.length == 0) {
                throw new BadInputException("--prompt: the text encodes to no tokens; give at least one character");
            }
        } else {
            opt = "--prompt-ids";
            ids = parseIds(prompt.ids);
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= c.vocabSize()) {
                throw new BadInputException(opt + ": id " + ids[i] + " (token " + i + ") is outside the model's "
                        + "vocabulary [0, " + c.vocabSize() + ")");
            }
        }
        if (ids.length > c.maxSeqLen()) {
            throw new BadInputException(opt + ": " + ids.length + " tokens are more than the model's max_seq_len "
                    + c.maxSeqLen());
        }
        return ids;
    }

    static int[] parseIds(String s) {
        List<Integer> out = new ArrayList<>();
        for (String part : s.split(",", -1)) {
            String p = part.strip();
            try {
                out.add(Integer.parseInt(p));
            } catch (NumberFormatException e) {
                throw new BadInputException("--prompt-ids: '" + p + "' is not an integer id (give ids separated by "
                        + "commas, e.g. 1,2,3)");
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * Prints text as tokens arrive: the generated ids decoded so far, less what was printed, held back while the text
     * ends in U+FFFD (a character whose bytes are split over tokens), as transformers' TextStreamer does. Without a
     * tokenizer, the ids separated by spaces.
     */
    private static final class Stream {
        private final PrintWriter out;
        private final Tokenizer t;
        private final List<Integer> gen = new ArrayList<>();
        private int printed;

        Stream(PrintWriter out, Tokenizer t) {
            this.out = out;
            this.t = t;
        }

        void prompt(int[] ids) {
            if (t != null) {
                out.print(t.decode(ids));
            } else {
                StringBuilder sb = new StringBuilder();
                for (int id : ids) {
                    sb.append(sb.isEmpty() ? "" : " ").append(id);
                }
                out.print(sb);
            }
            out.flush();
        }

        void token(int id) {
            if (t == null) {
                out.print(" " + id);
                out.flush();
                return;
            }
            gen.add(id);
            String text = t.decode(gen.stream().mapToInt(Integer::intValue).toArray());
            if (text.endsWith("\uFFFD")) {
                return;
            }
            if (text.length() > printed) {
                out.print(text.substring(printed));
                printed = text.length();
                out.flush();
            }
        }

        void end() {
            if (t != null && !gen.isEmpty()) {
                String text = t.decode(gen.stream().mapToInt(Integer::intValue).toArray());
                if (text.length() > printed) {
                    out.print(text.substring(printed));
                }
            }
            out.println();
            out.flush();
        }
    }
}
