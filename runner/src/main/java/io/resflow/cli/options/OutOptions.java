package io.resflow.cli.options;

import io.resflow.model.BadInputException;
import io.resflow.out.OutDir;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * {@code --out} and {@code --force} as mixins, for every command that writes files. A folder ({@link Folder}: bench,
 * validate, ablation, run; {@link RequiredFolder}: export) is taken through {@link OutDir}: one writer per folder, no
 * results replaced unless {@code --force}. Tokenize writes one file ({@link OutFile}). The folder forms share
 * {@code --force} and differ only in the annotation of {@code --out}, which a field cannot change per command.
 */
public abstract sealed class OutOptions {
    @Option(names = "--force", description = "Write into an --out folder that holds files, replacing this command's "
            + "earlier results there (other files stay).")
    boolean force;

    /** The folder given; null for a {@link Folder} without --out (then a new one under runs/). */
    public abstract Path out();

    public boolean force() {
        return force;
    }

    /** Fails now (exit 2) if the folder would be refused later; writes nothing. */
    public void precheck(OutDir.Outputs outputs) {
        OutDir.precheck(out(), "--out", force(), outputs);
    }

    /** Claims the output folder; close it when the command ends. */
    public OutDir claim(String configName, OutDir.Outputs outputs, PrintWriter notes) {
        return OutDir.claimNew(out(), "--out", configName, force(), outputs, notes);
    }

    /** An output folder that defaults to a new one under runs/. */
    public static final class Folder extends OutOptions {
        @Option(names = {"-o", "--out"}, paramLabel = "DIR",
                description = "Output folder, new or empty (default: runs/${COMMAND-NAME}-<config name>-<timestamp>/).")
        Path out;

        @Override
        public Path out() {
            return out;
        }
    }

    /** An output folder the user must name. */
    public static final class RequiredFolder extends OutOptions {
        @Option(names = {"-o", "--out"}, required = true, paramLabel = "DIR",
                description = "The folder to write, new or empty.")
        Path out;

        @Override
        public Path out() {
            return out;
        }
    }

    /** One output file (tokenize's token file), replaced only with --force. */
    public static final class OutFile {
        @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE.bin", description = "The token file to write.")
        public Path out;

        @Option(names = "--force", description = "Replace --out when it exists.")
        public boolean force;

        /** Fails (exit 2) when --out is a folder, or exists without --force; writes nothing. */
        public Path precheck() {
            if (Files.isDirectory(out)) {
                throw new BadInputException("--out " + out + ": is a folder; give the token file to write");
            }
            if (Files.exists(out) && !force) {
                throw new BadInputException("--out " + out + ": already exists; add --force to replace it");
            }
            return out;
        }
    }
}
