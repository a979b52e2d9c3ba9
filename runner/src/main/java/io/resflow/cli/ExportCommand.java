package io.resflow.cli;

import io.resflow.cli.options.ResflowCommand;
import io.resflow.cli.options.OutOptions;
import io.resflow.cli.options.ModelArgument;
import io.resflow.out.OutDir;
import io.resflow.train.ModelSource;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resflow.model.BadInputException;
import io.resflow.model.HfWeights;
import io.resflow.model.IoErrors;
import io.resflow.model.ModelConfig;
import io.resflow.model.ModelConfigs;
import io.resflow.model.Params;
import io.resflow.safetensors.SafeTensorsWriter;
import io.resflow.text.ByteTokenizer;
import io.resflow.text.ByteVocab;
import io.resflow.text.Gpt2Tokenizer;
import io.resflow.text.Gpt2Vocab;
import io.resflow.text.HfTokenizer;
import io.resflow.text.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code resflow export MODEL --out DIR}: a model as a Hugging Face folder. */
@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Export a model (checkpoint, run folder, model config or folder) as a Hugging Face folder.",
        description = {"""
                Writes config.json (GPT2LMHeadModel or LlamaForCausalLM), model.safetensors (float32, Hugging Face \
                names and layouts: GPT-2's Conv1D weights [in, out], Llama's q/k/v and gate/up projections apart), \
                tokenizer.json when the model's tokenizer is known (the run's text_file tokenizer, or the source \
                folder's tokenizer.json), and generation_config.json (with the end-of-sequence id when known). \
                transformers loads the folder with from_pretrained; it is also a model for every resflow command.""", """
                Only the pre-norm residual scheme has a Hugging Face layout. Exit 0 done, 2 bad input (also an \
                existing --out that holds files, without --force)."""})
final class ExportCommand extends ResflowCommand {
    static final OutDir.Outputs OUTPUTS = new OutDir.Outputs("export", "config.json", "model.safetensors",
            HfTokenizer.FILE, "tokenizer_config.json", "generation_config.json");

    @Mixin
    ModelArgument model;

    @Mixin
    OutOptions.RequiredFolder output;

    @Override
    protected int run(PrintWriter pw) {
        Path source = model.path;
        Path out = output.out();
        ModelSource src = model.open();
        ModelConfig c = src.config();
        if (src.weightsPath() != null && Files.isDirectory(out)
                && src.weightsPath().toAbsolutePath().normalize().startsWith(out.toAbsolutePath().normalize())) {
            throw new BadInputException("--out " + out + ": holds the weights being exported (" + src.weightsPath()
                    + "); export into another folder");
        }
        try {
            ModelConfigs.toHfJson(c);
        } catch (BadInputException e) {
            throw new BadInputException(source + ": " + e.getMessage() + "; only such models can be exported", e);
        }
        output.precheck(OUTPUTS);
        Optional<Tokenizer> tok = src.openTokenizer();
        try {
            List<Integer> eos = new ArrayList<>(src.eosIds());
            if (eos.isEmpty() && tok.isPresent() && tok.get().eosId().isPresent()) {
                eos.add(tok.get().eosId().getAsInt());
            }
            Params params = src.params();
            try (OutDir od = output.claim(src.name(), OUTPUTS, pw)) {
                Path dir = od.path();
                Integer bos = bosId(source, src.tokenizer());
                HfWeights.saveHf(dir, params, c, json -> putEos(json, bos, eos));
                List<String> wrote = new ArrayList<>(List.of("config.json", "model.safetensors"));
                String tokNote = writeTokenizer(dir, src.tokenizer(), tok, c.maxSeqLen(), wrote);
                ObjectNode gen = JsonNodeFactory.instance.objectNode();
                putEos(gen, bos, eos);
                SafeTensorsWriter.writeAtomically(dir.resolve("generation_config.json"), ModelConfigs.prettyBytes(gen));
                wrote.add("generation_config.json");
                pw.printf("exported %s (%s, %,d parameters; weights: %s) to %s: %s%n", src.name(),
                        ModelConfigs.id(c.family()), c.parameterCount(), src.weightsFrom(), dir, String.join(", ", wrote));
                pw.println(tokNote + (eos.isEmpty() ? "; no end-of-sequence id" : "; eos_token_id " + eosValue(eos)));
            }
        } finally {
            tok.ifPresent(Tokenizer::close);
        }
        return Main.OK;
    }

    private static Object eosValue(List<Integer> eos) {
        return eos.size() == 1 ? eos.getFirst() : eos;
    }

    /**
     * {@code bos_token_id} and {@code eos_token_id} as transformers writes them (one id, or a list); null when unknown,
     * so that transformers does not assume GPT-2's 50256 for a model whose vocabulary has no such id.
     */
    private static void putEos(ObjectNode o, Integer bos, List<Integer> eos) {
        if (bos == null) {
            o.putNull("bos_token_id");
        } else {
            o.put("bos_token_id", bos);
        }
        if (eos.isEmpty()) {
            o.putNull("eos_token_id");
        } else if (eos.size() == 1) {
            o.put("eos_token_id", eos.getFirst());
        } else {
            var a = o.putArray("eos_token_id");
            eos.forEach(a::add);
        }
    }

    /**
     * The beginning-of-sequence id: the source folder's {@code bos_token_id} (generation_config.json, else
     * config.json), else GPT-2's end-of-text for the gpt2 tokenizer (as GPT-2's own config has it), else null.
     */
    private static Integer bosId(Path source, String tokenizer) {
        Path dir = Files.isDirectory(source) ? source : source.toAbsolutePath().getParent();
        for (String f : List.of("generation_config.json", "config.json")) {
            Path file = dir == null ? null : dir.resolve(f);
            if (file != null && Files.isRegularFile(file) && !Files.isRegularFile(dir.resolve("run.json"))) {
                var v = ModelConfigs.readJson(file).get("bos_token_id");
                if (v != null && v.canConvertToInt() && v.isIntegralNumber()) {
                    return v.asInt();
                }
            }
        }
        return Gpt2Tokenizer.SPEC.equals(tokenizer) ? Gpt2Tokenizer.EOT_ID : null;
    }

    private static String writeTokenizer(Path dir, String spec, Optional<Tokenizer> tok, int maxSeqLen, List<String> wrote) {
        if (tok.isEmpty()) {
            return "tokenizer: unknown (the model's data was not a text_file): no tokenizer.json";
        }
        Path target = dir.resolve(HfTokenizer.FILE);
        if (spec.equals(Gpt2Tokenizer.SPEC) || spec.equals(ByteTokenizer.SPEC)) {
            if (spec.equals(Gpt2Tokenizer.SPEC)) {
                Gpt2Vocab.write(target);
            } else {
                ByteVocab.write(target);
            }
            // so that transformers' AutoTokenizer reads tokenizer.json as it is (no tokens of a model class added)
            ObjectNode cfg = JsonNodeFactory.instance.objectNode();
            cfg.put("tokenizer_class", "PreTrainedTokenizerFast");
            cfg.put("model_max_length", maxSeqLen);
            if (spec.equals(Gpt2Tokenizer.SPEC)) {
                cfg.put("bos_token", Gpt2Tokenizer.EOT);
                cfg.put("eos_token", Gpt2Tokenizer.EOT);
            }
            SafeTensorsWriter.writeAtomically(dir.resolve("tokenizer_config.json"), ModelConfigs.prettyBytes(cfg));
            wrote.add("tokenizer_config.json");
        } else {
            Path file = ((HfTokenizer) tok.get()).file();
            copy(file, target);
            Path cfg = file.resolveSibling("tokenizer_config.json");
            if (Files.isRegularFile(cfg)) {
                copy(cfg, dir.resolve("tokenizer_config.json"));
                wrote.add("tokenizer_config.json");
            }
        }
        wrote.add(HfTokenizer.FILE);
        return "tokenizer: " + tok.get().name() + " as " + HfTokenizer.FILE;
    }

    private static void copy(Path from, Path to) {
        try {
            SafeTensorsWriter.writeAtomically(to, Files.readAllBytes(from));
        } catch (IOException e) {
            throw new BadInputException(from + ": cannot read: " + IoErrors.describe(e), e);
        }
    }
}
