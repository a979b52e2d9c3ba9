package io.resflow.jvm;

import io.resflow.model.BadInputException;

/**
 * The jvm backend's tuning switches, all JVM system properties (set through {@code RESFLOW_JAVA_OPTS} or the JVM's
 * command line): {@code resflow.jvm.tile} (6x4, 4x4 or 6x2: the GEMM's register tile, see {@link Sgemm.Tile}),
 * {@code resflow.jvm.kc} (the GEMM's k block, a whole number 8..65536) and {@code resflow.jvm.transpose8} (select
 * or scalar, see {@link Transpose}). The classes that read them do so once, in static initialisers; {@link #check}
 * runs first, so that a wrong value is a clear error (exit 2 from the CLI) and not a failed class initialisation.
 */
final class JvmSettings {
    /** The register tiles {@code resflow.jvm.tile} takes (see {@link Sgemm.Tile}). */
    static final String[] TILES = {"6x4", "4x4", "6x2"};

    private JvmSettings() {
    }

    static void check() {
        oneOf("resflow.jvm.tile", TILES);
        oneOf("resflow.jvm.transpose8", "select", "scalar");
        String kc = System.getProperty("resflow.jvm.kc");
        if (kc != null) {
            int v;
            try {
                v = Integer.parseInt(kc.trim());
            } catch (NumberFormatException e) {
                v = -1;
            }
            if (v < 8 || v > 65536) {
                throw new BadInputException("-Dresflow.jvm.kc=" + kc + ": expected a whole number from 8 to 65536");
            }
        }
    }

    private static void oneOf(String key, String... allowed) {
        String v = System.getProperty(key);
        if (v == null || v.isEmpty()) {
            return;
        }
        for (String a : allowed) {
            if (a.equals(v)) {
                return;
            }
        }
        throw new BadInputException("-D" + key + "=" + v + ": expected " + String.join(", ", allowed));
    }
}
