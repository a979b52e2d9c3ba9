package io.resflow.cli;

/**
 * Loads JLine's native library as the progress bar does on a terminal (System::load, a restricted method), then
 * builds the usage help of every command. Run in a child JVM with the launcher's options by {@link WarningsTest}.
 */
public final class NativeAccessProbe {
    private NativeAccessProbe() {
    }

    public static void main(String[] args) {
        org.jline.nativ.JLineNativeLoader.initialize();
        picocli.CommandLine cli = new picocli.CommandLine(new Main());
        for (picocli.CommandLine sub : cli.getSubcommands().values()) {
            sub.getUsageMessage();
        }
        System.out.println("probe done");
    }
}
