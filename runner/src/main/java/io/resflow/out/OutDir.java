package io.resflow.out;

import io.resflow.model.BadInputException;
import io.resflow.model.IoErrors;
import io.resflow.safetensors.SafeTensorsWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.StandardOpenOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The folder a command writes into, held by one process at a time. Every command that writes files goes through this
 * class, so that:
 * <ul>
 * <li>one process writes into a folder: the lock file {@value #LOCK} in the folder is held with an OS lock for as long
 *     as the command runs (the OS releases it when the process ends, also on {@code kill -9}); a second writer gets
 *     exit 2 naming the holder's pid, which the lock file holds;</li>
 * <li>no command overwrites results it did not write in this invocation: an explicit {@code --out} must be new or
 *     empty; {@code --force} replaces the command's own outputs there (other files stay). Default folders
 *     ({@code runs/<command>-<name>-<timestamp>}, with {@code -2}, {@code -3}, ... when taken) are always new;</li>
 * <li>temporary files left by a killed process ({@code .<name>.<digits>.tmp}) are removed when the folder is next
 *     claimed.</li>
 * </ul>
 * The lock file is never deleted: deleting it would let two processes lock two different files of the same name.
 */
public final class OutDir implements AutoCloseable {
    /** The lock file's name inside an output folder. */
    public static final String LOCK = ".resflow.lock";
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");
    private static final Pattern PID = Pattern.compile("pid (\\d+)");

    /**
     * What a command writes into its folder.
     *
     * @param command the command, e.g. {@code bench} (in messages and default folder names)
     * @param names the files and folders it writes; {@code *} matches any characters (e.g. {@code step_ms-*.png})
     */
    public record Outputs(String command, List<String> names) {
        public Outputs(String command, String... names) {
            this(command, List.of(names));
        }

        boolean matches(String fileName) {
            for (String n : names) {
                if (n.contains("*") ? glob(n).matches(Path.of(fileName)) : n.equals(fileName)) {
                    return true;
                }
            }
            return false;
        }

        private static PathMatcher glob(String g) {
            return FileSystems.getDefault().getPathMatcher("glob:" + g);
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;

    private OutDir(Path path, FileChannel channel, FileLock lock) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
    }

    public Path path() {
        return path;
    }

    /** A file in the folder. */
    public Path resolve(String name) {
        return path.resolve(name);
    }

    /**
     * Claims a folder for new results: {@code given} (an explicit {@code --out}, created when missing) or, when null,
     * a new default folder {@code runs/<command>-<name>-<timestamp>}.
     *
     * @param option how the folder was given, for messages (e.g. {@code --out})
     * @param force replace this command's earlier outputs in {@code given} instead of refusing
     * @param notes where what was removed is reported
     * @throws BadInputException (exit 2) when the folder holds files and not {@code force}, when another process
     *     holds it, or when it cannot be created
     */
    public static OutDir claimNew(Path given, String option, String name, boolean force, Outputs outputs,
            PrintWriter notes) {
        if (given == null) {
            return lock(createDefault(outputs.command(), name), option, outputs, notes);
        }
        create(given, option);
        OutDir d = lock(given, option, outputs, notes);
        try {
            List<String> held = contents(given);
            if (!held.isEmpty()) {
                if (!force) {
                    throw holdsFiles(given, option, held, outputs);
                }
                List<String> removed = d.removeOutputs(outputs);
                if (!removed.isEmpty()) {
                    notes.println("--force: removed the earlier " + outputs.command() + " results in " + given + ": "
                            + abbreviate(removed, 8));
                }
            }
            return d;
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
    }

    /**
     * Claims a folder that holds this command's earlier results to continue them (a run's {@code --resume}): it is
     * locked and its temporary files are removed; its files are kept.
     */
    public static OutDir claimExisting(Path dir, String option, Outputs outputs, PrintWriter notes) {
        if (!Files.isDirectory(dir)) {
            throw new BadInputException(option + " " + dir + ": not a folder");
        }
        return lock(dir, option, outputs, notes);
    }

    /**
     * Fails as {@link #claimNew} would for an explicit folder, without writing anything: so that a command refuses a
     * folder before its (possibly long) work rather than after.
     */
    public static void precheck(Path given, String option, boolean force, Outputs outputs) {
        if (given == null || !Files.exists(given)) {
            return;
        }
        if (!Files.isDirectory(given)) {
            throw new BadInputException(option + " " + given + ": exists and is not a folder");
        }
        Path lockFile = given.resolve(LOCK);
        if (Files.isRegularFile(lockFile)) {
            try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                FileLock l = tryLock(ch, given, option, lockFile);
                l.release();
            } catch (IOException e) {
                // not writable: claimNew reports it
            }
        }
        if (!force) {
            List<String> held = contents(given);
            if (!held.isEmpty()) {
                throw holdsFiles(given, option, held, outputs);
            }
        }
    }

    /** The folder's entries other than the lock file and leftover temporary files, sorted (folders end in /). */
    public static List<String> contents(Path dir) {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) {
                String n = p.getFileName().toString();
                if (!n.equals(LOCK) && !SafeTensorsWriter.isTemporary(n)) {
                    out.add(Files.isDirectory(p) ? n + "/" : n);
                }
            }
        } catch (IOException e) {
            throw new BadInputException(dir + ": cannot list the folder: " + IoErrors.describe(e), e);
        }
        return out;
    }

    /**
     * Deletes this command's outputs in the folder (whole output folders included); other files stay. Returns what
     * was removed.
     */
    public List<String> removeOutputs(Outputs outputs) {
        List<String> removed = new ArrayList<>();
        for (String n : contents(path)) {
            String name = n.endsWith("/") ? n.substring(0, n.length() - 1) : n;
            if (outputs.matches(name)) {
                deleteTree(path.resolve(name));
                removed.add(n);
            }
        }
        return removed;
    }

    private static BadInputException holdsFiles(Path dir, String option, List<String> held, Outputs outputs) {
        return new BadInputException(option + " " + dir + ": already holds files (" + abbreviate(held, 4)
                + "); resflow writes only into a new or empty folder: choose another " + option + ", or add --force to "
                + "replace the " + outputs.command() + " results there (" + String.join(", ", outputs.names())
                + "; other files stay)");
    }

    static String abbreviate(List<String> names, int max) {
        return names.size() <= max ? String.join(", ", names)
                : String.join(", ", names.subList(0, max)) + " and " + (names.size() - max) + " more";
    }

    private static Path createDefault(String command, String name) {
        String base = command + "-" + name + "-" + LocalDateTime.now().format(STAMP);
        Path runs = Path.of("runs");
        try {
            Files.createDirectories(runs);
            for (int i = 1; ; i++) {
                Path p = runs.resolve(i == 1 ? base : base + "-" + i);
                try {
                    return Files.createDirectory(p);
                } catch (FileAlreadyExistsException taken) {
                    // another run of the same second: try the next suffix
                }
            }
        } catch (IOException e) {
            throw new BadInputException(runs.toAbsolutePath() + ": cannot create the output folder: "
                    + IoErrors.describe(e), e);
        }
    }

    private static void create(Path dir, String option) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new BadInputException(option + " " + dir + ": exists and is not a folder");
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new BadInputException(option + " " + dir + ": cannot create the folder: " + IoErrors.describe(e), e);
        }
    }

    private static OutDir lock(Path dir, String option, Outputs outputs, PrintWriter notes) {
        Path lockFile = dir.resolve(LOCK);
        FileChannel ch;
        try {
            ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new BadInputException(option + " " + dir + ": cannot write into the folder: " + IoErrors.describe(e), e);
        }
        try {
            FileLock l = tryLock(ch, dir, option, lockFile);
            String who = "pid " + ProcessHandle.current().pid() + ", resflow " + outputs.command() + ", started "
                    + LocalDateTime.now() + ", jvm " + ManagementFactory.getRuntimeMXBean().getName() + "\n";
            ch.truncate(0);
            ch.write(ByteBuffer.wrap(who.getBytes(StandardCharsets.UTF_8)), 0);
            ch.force(false);
            OutDir d = new OutDir(dir, ch, l);
            d.removeTemporaries(outputs, notes);
            return d;
        } catch (IOException e) {
            closeQuietly(ch);
            throw new BadInputException(option + " " + dir + ": cannot lock the folder: " + IoErrors.describe(e), e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    /** Locks the file or throws the message naming the holder. */
    private static FileLock tryLock(FileChannel ch, Path dir, String option, Path lockFile) throws IOException {
        FileLock l;
        try {
            l = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            l = null;
        }
        if (l == null) {
            String holder = "another resflow process";
            try {
                Matcher m = PID.matcher(Files.readString(lockFile, StandardCharsets.UTF_8));
                if (m.find()) {
                    holder += " (pid " + m.group(1) + ")";
                }
            } catch (IOException unreadable) {
                // the pid is a courtesy
            }
            throw new BadInputException(option + " " + dir + ": " + holder + " is writing into this folder; wait for it "
                    + "to finish, or choose another folder");
        }
        return l;
    }

    private void removeTemporaries(Outputs outputs, PrintWriter notes) throws IOException {
        List<Path> dirs = new ArrayList<>(List.of(path));
        for (String n : outputs.names()) {
            if (!n.contains("*") && Files.isDirectory(path.resolve(n))) {
                dirs.add(path.resolve(n));
            }
        }
        List<String> removed = new ArrayList<>();
        for (Path d : dirs) {
            try (Stream<Path> s = Files.list(d)) {
                for (Path p : s.toList()) {
                    if (Files.isRegularFile(p) && SafeTensorsWriter.isTemporary(p.getFileName().toString())) {
                        Files.deleteIfExists(p);
                        removed.add(path.relativize(p).toString());
                    }
                }
            }
        }
        if (!removed.isEmpty()) {
            notes.println("removed " + removed.size() + " leftover temporary file" + (removed.size() == 1 ? "" : "s")
                    + " in " + path + " (left by a process that was stopped while writing): " + abbreviate(removed, 4));
        }
    }

    private static void deleteTree(Path p) {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        } catch (IOException e) {
            throw new BadInputException(p + ": cannot remove the earlier result: " + IoErrors.describe(e), e);
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing was written through it
        }
    }

    /** Releases the lock (the OS releases it anyway when the process ends). */
    @Override
    public void close() {
        try {
            if (lock.isValid()) {
                lock.release();
            }
            channel.close();
        } catch (IOException ignored) {
            // closing a lock file cannot lose data
        }
    }
}
