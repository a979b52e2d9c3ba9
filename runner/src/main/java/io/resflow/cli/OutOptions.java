package io.resflow.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * {@code --out DIR} and {@code --force}, for every command that writes files; {@link #claim} takes the folder through
 * {@link OutDir} (one writer per folder, no results replaced unless {@code --force}).
 */
public final class OutOptions {
    @Option(names = {"-o", "--out"}, paramLabel = "DIR",
            description = "Output folder, new or empty (default: runs/<command>-<config name>-<timestamp>/).")
    public Path out;

    @Option(names = "--force", description = "Write into an --out folder that holds files, replacing this command's "
            + "earlier results there (other files stay).")
    public boolean force;

    /** Fails now (exit 2) if the folder would be refused later; writes nothing. */
    public void precheck(OutDir.Outputs outputs) {
        OutDir.precheck(out, "--out", force, outputs);
    }

    /** Claims the output folder; close it when the command ends. */
    public OutDir claim(String configName, OutDir.Outputs outputs, PrintWriter notes) {
        return OutDir.claimNew(out, "--out", configName, force, outputs, notes);
    }
}
