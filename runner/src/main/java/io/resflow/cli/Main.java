package io.resflow.cli;

import io.resflow.cli.ablation.AblationCommand;

import io.resflow.model.BadInputException;
import io.resflow.model.ExitCodes;
import io.resflow.model.RuntimeFailure;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code resflow} command line. Exit codes: 0 success, 1 a check or validation failed, 2 bad input, 3 a runtime
 * failure (NaN/Inf, device error). Errors print one line; {@code --debug} adds the stack trace.
 */
@Command(name = "resflow", mixinStandardHelpOptions = true, version = "resflow 0.1.0",
        description = "Residual transformers forward and backward on the JVM and TornadoVM devices, checked against a pure-Java reference.",
        subcommands = {RunCommand.class, GenerateCommand.class, TokenizeCommand.class, ExportCommand.class, CheckCommand.class,
                ValidateCommand.class, BenchCommand.class, DevicesCommand.class, GradcheckCommand.class,
                io.resflow.cli.ablation.AblationCommand.class})
public final class Main {
    public static final int OK = ExitCodes.OK;
    public static final int CHECK_FAILED = ExitCodes.CHECK_FAILED;
    public static final int BAD_INPUT = ExitCodes.BAD_INPUT;
    public static final int RUNTIME_FAILURE = ExitCodes.RUNTIME_FAILURE;

    /** Whether the process's standard output is a terminal (set by {@link #main}; tests leave it false). */
    static volatile boolean stdoutIsTerminal;

    public static void main(String[] args) {
        var console = System.console();
        stdoutIsTerminal = console != null && console.isTerminal();
        System.setProperty("java.awt.headless", "true");
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        int code = execute(out, err, args);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /** Runs the CLI with the given streams (tests use this) and returns the exit code. */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        boolean debug = java.util.Arrays.asList(args).contains("--debug");
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setParameterExceptionHandler((ex, a) -> {
            // one line: what is wrong and where to look; suggestions for a misspelt option follow
            err.println("resflow: " + ex.getMessage() + " (see '" + ex.getCommandLine().getCommandSpec().qualifiedName()
                    + " --help')");
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
            return BAD_INPUT;
        });
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            Failure f = describe(ex, debug);
            err.println(f.line());
            if (debug) {
                f.cause().printStackTrace(err);
            } else if (f.hint()) {
                err.println("(run with --debug for the stack trace)");
            }
            return f.code();
        });
        try {
            return cli.execute(args);
        } catch (OutOfMemoryError e) { // picocli passes Errors through
            err.println("out of memory (raise -Xmx with RESFLOW_JAVA_OPTS, e.g. RESFLOW_JAVA_OPTS=-Xmx16g): " + e.getMessage());
            if (debug) {
                e.printStackTrace(err);
            }
            return RUNTIME_FAILURE;
        }
    }

    /**
     * How a failure is reported: its exit code, its one line, the throwable it came from, and whether to point at
     * --debug (an unexpected failure).
     */
    record Failure(int code, String line, Throwable cause, boolean hint) {
    }

    static Failure describe(Throwable ex, boolean debug) {
        Throwable t = ex;
        if (t instanceof java.io.UncheckedIOException && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof BadInputException) {
            return new Failure(BAD_INPUT, "error: " + t.getMessage(), t, false);
        } else if (t instanceof RuntimeFailure) {
            return new Failure(RUNTIME_FAILURE, "runtime failure: " + t.getMessage(), t, false);
        } else if (t instanceof OutOfMemoryError) {
            return new Failure(RUNTIME_FAILURE, "out of memory (raise -Xmx with RESFLOW_JAVA_OPTS): " + t.getMessage(),
                    t, true);
        } else if (t instanceof java.io.IOException ioe) {
            return new Failure(RUNTIME_FAILURE, "runtime failure: input/output error: "
                    + io.resflow.model.IoErrors.describe(ioe), t, true);
        }
        return new Failure(RUNTIME_FAILURE, "internal error (a bug in resflow): "
                + (t.getMessage() != null ? t.getMessage() : "no message"), t, true);
    }
}
