package io.resflow.cli.options;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * What every resflow subcommand has: {@code --debug} ({@link CommonOptions}), its picocli spec (for its output and
 * error writers) and a body that returns the exit code. A subcommand extends this and implements {@link #run}; Main
 * maps what it throws to exit codes.
 */
public abstract class ResflowCommand implements Callable<Integer> {
    @Mixin
    protected CommonOptions common;

    @Spec
    protected CommandSpec spec;

    @Override
    public final Integer call() throws InterruptedException {
        return run(spec.commandLine().getOut());
    }

    /** The command's work, printing to {@code out} (the command line's output); returns the exit code. */
    protected abstract int run(PrintWriter out) throws InterruptedException;
}
