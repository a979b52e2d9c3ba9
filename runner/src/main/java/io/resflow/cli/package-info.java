/**
 * The {@code resflow} command line: {@link io.resflow.cli.Main} and one picocli command per subcommand. A command
 * parses options, calls into the role packages and maps failures to exit codes; the work itself lives elsewhere.
 * May import: every io.resflow package (nothing imports this one).
 */
package io.resflow.cli;
