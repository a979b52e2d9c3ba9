package io.resflow.fuzz;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A bug planted behind a 4-byte magic number, to prove that the fuzzer sees the code's comparisons (coverage and
 * compare instrumentation): a fuzzer that runs blind (as Jazzer 0.24 did on Java 25 class files) hits the magic with
 * probability 2^-32 per input and never finds it; an instrumented one finds it in seconds. Test code only.
 */
final class PlantedBug {
    /** "RFLW" read as a little-endian int. */
    static final int MAGIC = 0x574C4652;

    private PlantedBug() {
    }

    /** Parses a made-up header; throws the planted bug when the first four bytes are the magic. */
    static int parse(byte[] data) {
        if (data.length < 8) {
            return -1;
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int magic = b.getInt(0);
        if (magic == MAGIC) {
            throw new IllegalStateException("planted bug reached: magic RFLW");
        }
        return b.getInt(4);
    }
}
