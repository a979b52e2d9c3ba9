package io.resflow.model;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * I/O problems in the project's words: what happened ("permission denied", "no space left on device"), never the
 * library's exception class, and checks that an input path is a regular file of a sane size before it is opened (a
 * FIFO would block the open, a device such as /dev/zero never ends).
 */
public final class IoErrors {
    private IoErrors() {
    }

    /** What went wrong, in plain words (the OS's reason where it gives one), without the exception's class name. */
    public static String describe(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "no such file or folder";
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof FileAlreadyExistsException) {
            return "already exists";
        }
        if (e instanceof NotDirectoryException) {
            return "not a folder";
        }
        if (e instanceof DirectoryNotEmptyException) {
            return "folder not empty";
        }
        if (e instanceof FileSystemException fs && fs.getReason() != null) {
            return lower(fs.getReason());
        }
        String m = e.getMessage();
        return m == null || m.isBlank() ? "input/output error" : lower(m);
    }

    private static String lower(String s) {
        return s.isEmpty() ? s : s.substring(0, 1).toLowerCase(Locale.ROOT) + s.substring(1);
    }

    /**
     * Checks that {@code file} exists, is a regular file (not a folder, FIFO, socket or device) and holds at most
     * {@code maxBytes}; returns its size.
     *
     * @param what what the file is, for messages (e.g. "a text file")
     * @throws BadInputException naming the file otherwise
     */
    public static long requireRegularFile(Path file, String what, long maxBytes) {
        if (!Files.exists(file)) {
            throw new BadInputException(file + ": file not found");
        }
        if (Files.isDirectory(file)) {
            throw new BadInputException(file + ": is a folder, not " + what);
        }
        if (!Files.isRegularFile(file)) {
            throw new BadInputException(file + ": not a regular file (a FIFO, socket or device); give " + what);
        }
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read: " + describe(e), e);
        }
        if (size > maxBytes) {
            throw new BadInputException(file + ": is " + String.format("%,d", size) + " bytes; " + what
                    + " may have at most " + String.format("%,d", maxBytes));
        }
        return size;
    }
}
