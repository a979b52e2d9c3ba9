package io.resflow.tornado;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;

/**
 * Captures what native code writes to the process's standard output (file descriptor 1) while a piece of code runs.
 * TornadoVM's OpenCL driver reports failed launches ({@code [TornadoVM-OCL-JNI] ERROR ...}) with printf from C and
 * carries on, so a test can only see them at the file-descriptor level: fd 1 is pointed at a temporary file with
 * dup2 (through the FFM API), the C stdio buffers are flushed, and fd 1 is restored.
 */
final class NativeStdout {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle DUP = handle("dup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle DUP2 = handle("dup2", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle CREAT = handle("creat", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CLOSE = handle("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FFLUSH = handle("fflush", FunctionDescriptor.of(JAVA_INT, ADDRESS));

    private NativeStdout() {
    }

    private static MethodHandle handle(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd);
    }

    /** What ran and what it printed on fd 1 (the text is echoed to the real stdout afterwards). */
    record Captured<T>(T value, String output) {
        List<String> errorLines() {
            return output.lines().filter(l -> l.contains("ERROR") || l.contains("[Bailout]")).toList();
        }
    }

    static <T> Captured<T> capture(Supplier<T> body) {
        return capture(body, true);
    }

    /** With {@code echo} false the captured text is only returned (for output a test provokes on purpose). */
    static <T> Captured<T> capture(Supplier<T> body, boolean echo) {
        Path file;
        try {
            file = Files.createTempFile("resflow-native-stdout", ".txt");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        int saved;
        try (Arena arena = Arena.ofConfined()) {
            System.out.flush();
            FFLUSH.invoke(MemorySegment.NULL);
            saved = (int) DUP.invoke(1);
            int fd = (int) CREAT.invoke(arena.allocateFrom(file.toString()), 0600);
            if (saved < 0 || fd < 0 || (int) DUP2.invoke(fd, 1) < 0) {
                throw new IllegalStateException("cannot redirect fd 1");
            }
            CLOSE.invoke(fd);
        } catch (Throwable e) {
            throw new IllegalStateException("cannot redirect fd 1: " + e, e);
        }
        T value;
        try {
            value = body.get();
        } finally {
            try {
                System.out.flush();
                FFLUSH.invoke(MemorySegment.NULL);
                DUP2.invoke(saved, 1);
                CLOSE.invoke(saved);
            } catch (Throwable e) {
                throw new IllegalStateException("cannot restore fd 1: " + e, e);
            }
        }
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            Files.deleteIfExists(file);
            if (echo) {
                System.out.print(text);
            }
            return new Captured<>(value, text);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
