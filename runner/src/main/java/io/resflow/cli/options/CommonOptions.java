package io.resflow.cli.options;

import picocli.CommandLine.Option;

/** Options every command accepts. */
public final class CommonOptions {
    @Option(names = "--debug", description = "Print stack traces of errors.")
    public boolean debug;
}
