package io.resflow.cli;

import io.resflow.data.TokenFiles;

import static io.resflow.cli.Cli.args;
import static io.resflow.cli.Cli.badInput;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data paths that are not regular files (a FIFO would block the open forever, /dev/zero never ends) are refused with
 * exit 2 before they are opened (issue 11, row 10).
 */
class DataFilesTest {
    @TempDir
    Path tmp;

    private Path fifo() throws Exception {
        Path f = tmp.resolve("pipe");
        Process p = new ProcessBuilder("mkfifo", f.toString()).inheritIO().start();
        assertEquals(0, p.waitFor(), "mkfifo");
        return f;
    }

    private Object[] run(String type, Path path) {
        Path cfg = Cli.write(tmp.resolve("d.json"), Cli.tinyRun("\"data\": {\"type\": \"" + type + "\", \"path\": \""
                + path + "\"}"));
        return args("run", cfg, "--out", tmp.resolve("o" + System.nanoTime()));
    }

    @Test
    void aFifoOrADeviceIsRefusedAtOnce() throws Exception {
        Path fifo = fifo();
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            badInput(run("text_file", fifo), fifo.toString(), "not a regular file");
            badInput(run("token_file", fifo), fifo.toString(), "not a regular file");
            badInput(run("text_file", Path.of("/dev/zero")), "/dev/zero", "not a regular file");
            badInput(run("token_file", Path.of("/dev/zero")), "/dev/zero", "not a regular file");
            // configs and weights too
            badInput(args("run", fifo), fifo.toString(), "not a regular file");
            badInput(args("gradcheck", Path.of("/dev/zero")), "/dev/zero", "not a regular file");
        });
    }

    @Test
    void aTextFileLargerThanOneArrayIsRefusedBeforeItIsRead() throws Exception {
        Path big = tmp.resolve("big.txt");
        try (var ch = java.nio.channels.FileChannel.open(big, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.position(TokenFiles.MAX_TEXT_BYTES); // a sparse file: no disk space used
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {'x'}));
        }
        assertTimeoutPreemptively(Duration.ofSeconds(60), () ->
                badInput(run("text_file", big), big.toString(), "2,147,483,640 bytes", "at most 2,147,483,639"));
    }
}
