package io.resflow.engine;

import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/** Seeded inputs the engine and decoder tests of every backend share (this module's test-jar). */
public final class TestInputs {
    private TestInputs() {
    }

    /** The test-vector folder {@code name}, from the module or the repository root. */
    public static Path testVectorFolder(String name) {
        for (Path p : new Path[] {Path.of("../testvectors", name), Path.of("testvectors", name)}) {
            if (Files.isDirectory(p)) {
                return p;
            }
        }
        throw new IllegalStateException("test vectors " + name + " not found from " + Path.of("").toAbsolutePath());
    }

    /** n token ids below v from a seed. */
    public static int[] tokens(long seed, int n, int v) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(v);
        }
        return t;
    }

    /** Initialised parameters with ReZero's gates opened (0.7), so that every block counts. */
    public static Params openGates(ModelConfig c) {
        Params p = Initializer.init(c);
        for (var t : p.tensors()) {
            if (t.name().endsWith("_alpha")) {
                Arrays.fill(t.data(), 0.7f);
            }
        }
        return p;
    }
}
