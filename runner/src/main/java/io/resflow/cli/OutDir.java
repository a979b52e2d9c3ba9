package io.resflow.cli;

import io.resflow.model.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;

/** The folder a command writes into: {@code --out DIR}, or {@code runs/<command>-<config name>-<timestamp>/}. */
final class OutDir {
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    private OutDir() {
    }

    /** The default folder under {@code runs/}; a suffix -2, -3, ... avoids an existing one. */
    static Path defaultFor(String command, String configName) {
        String base = command + "-" + configName + "-" + LocalDateTime.now().format(STAMP);
        Path p = Path.of("runs", base);
        for (int i = 2; Files.exists(p); i++) {
            p = Path.of("runs", base + "-" + i);
        }
        return p;
    }

    /** Resolves and creates the output folder. */
    static Path create(Path given, String command, String configName) {
        Path dir = given != null ? given : defaultFor(command, configName);
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new BadInputException("--out " + dir + ": exists and is not a folder");
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new BadInputException("--out " + dir + ": cannot create the folder: " + e.getMessage(), e);
        }
        return dir;
    }
}
