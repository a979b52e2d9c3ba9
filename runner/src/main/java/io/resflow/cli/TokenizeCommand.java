package io.resflow.cli;

import io.resflow.cli.options.ResflowCommand;
import io.resflow.cli.options.OutOptions;
import io.resflow.data.TokenFiles;

import io.resflow.model.BadInputException;
import io.resflow.model.IoErrors;
import io.resflow.text.TextChunks;
import io.resflow.text.Tokenizer;
import io.resflow.text.Tokenizers;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code resflow tokenize TEXT --tokenizer T --out FILE.bin}: a UTF-8 text as an llm.c token file. */
@Command(name = "tokenize", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Tokenize a UTF-8 text file into an llm.c token file (.bin).",
        description = {"""
                Encodes the whole file as one string, exactly as the tokenizer does it (no special tokens added, \
                CRLF and tabs kept; the text of a special token such as <|endoftext|> becomes its id) and writes \
                llm.c's token file: a header of 256 int32 (magic 20240520, version 1, the token count), then the \
                ids as uint16. Large files show a progress bar on a terminal. A token_file data source reads the \
                result.""", """
                Exit 0 done, 2 bad input (an id above 65535, the format's limit; an existing --out without \
                --force)."""})
final class TokenizeCommand extends ResflowCommand {
    /** Texts longer than this (characters) are encoded in pieces with progress, when the tokenizer allows it. */
    static final int PIECE = 1 << 20;

    @Parameters(paramLabel = "TEXT", description = "A UTF-8 text file.")
    Path text;

    @Option(names = {"-t", "--tokenizer"}, required = true, paramLabel = "gpt2|bytes|PATH",
            description = "gpt2 (GPT-2's BPE, no file needed), bytes (one token per UTF-8 byte), or a Hugging Face "
                    + "tokenizer.json or a folder holding one.")
    String tokenizer;

    @Mixin
    OutOptions.OutFile output;

    @Override
    protected int run(PrintWriter pw) {
        Path out = output.precheck();
        String content = TokenFiles.readText(text);
        try (Tokenizer tok = Tokenizers.resolve(tokenizer, null, "--tokenizer")) {
            int[] ids = encode(tok, content, pw);
            for (int i = 0; i < ids.length; i++) {
                if (ids[i] > 0xFFFF) {
                    throw new BadInputException(text + ": token id " + ids[i] + " at index " + i + " (tokenizer "
                            + tok.name() + ") is above 65535, the limit of the token file format (uint16 ids)");
                }
            }
            TokenFiles.writeBinAtomically(out, ids);
            pw.printf("tokenized %s: %,d characters, %,d tokens (tokenizer %s, vocabulary %,d) -> %s%n", text,
                    content.codePointCount(0, content.length()), ids.length, tok.name(), tok.vocabSize(), out);
        }
        return Main.OK;
    }

    /** The ids of the text: in pieces with progress when it is large and the tokenizer allows it, else whole. */
    private static int[] encode(Tokenizer tok, String content, PrintWriter pw) {
        if (content.length() <= PIECE || !tok.cutsAtLineStarts()) {
            return tok.encode(content);
        }
        var pieces = TextChunks.split(content, PIECE);
        var console = System.console();
        boolean bar = Main.stdoutIsTerminal && console != null && console.isTerminal();
        int[][] parts = new int[pieces.size()][];
        long total = 0;
        ProgressBar pb = bar ? new ProgressBarBuilder().setTaskName("tokenize").setInitialMax(content.length())
                .setUnit(" MB", 1 << 20).setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                .setConsumer(new ConsoleProgressBarConsumer(System.out)).setUpdateIntervalMillis(200).build() : null;
        try {
            long done = 0;
            int shown = 0;
            for (int i = 0; i < parts.length; i++) {
                parts[i] = tok.encode(pieces.get(i));
                total += parts[i].length;
                done += pieces.get(i).length();
                if (pb != null) {
                    pb.stepTo(done);
                    pb.setExtraMessage(String.format("%,d tokens", total));
                } else if (done * 10 / content.length() > shown) {
                    shown = (int) (done * 10 / content.length());
                    pw.printf("tokenize: %d%% (%,d of %,d characters, %,d tokens)%n", shown * 10, done, content.length(), total);
                    pw.flush();
                }
            }
        } finally {
            if (pb != null) {
                pb.close();
            }
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new BadInputException("the text has " + total + " tokens, more than one file of this tool holds");
        }
        int[] ids = new int[(int) total];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, ids, at, p.length);
            at += p.length;
        }
        return ids;
    }
}
