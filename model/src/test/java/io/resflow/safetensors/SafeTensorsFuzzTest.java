package io.resflow.safetensors;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.resflow.fuzz.Findings;
import io.resflow.model.BadInputException;
import java.nio.file.Path;

/**
 * Fuzzes the safetensors reader: the header parser (length, JSON, dtypes, shapes, offsets, overlaps, metadata) and
 * the tensor readers. Every input either reads or is bad input named by the file; in ./test the inputs under
 * {@code SafeTensorsFuzzTestInputs/header} (seeds and earlier findings) run as regression tests, and
 * {@code scripts/fuzz.sh} fuzzes it.
 */
class SafeTensorsFuzzTest {
    private static final Path NAME = Path.of("fuzz.safetensors");

    @FuzzTest(maxDuration = "60s")
    void header(byte[] data) {
        try (SafeTensorsFile f = SafeTensorsFile.of(NAME, data)) {
            f.metadata().forEach((k, v) -> k.length());
            for (TensorInfo t : f.infos()) {
                read(f, t.name(), data);
            }
        } catch (BadInputException e) {
            Findings.check(e, NAME.toString(), data);
        }
    }

    private static void read(SafeTensorsFile f, String name, byte[] data) {
        for (int kind = 0; kind < 3; kind++) {
            try {
                switch (kind) {
                    case 0 -> f.floats(name);
                    case 1 -> f.ints(name);
                    default -> f.doubles(name);
                }
            } catch (BadInputException e) {
                Findings.check(e, NAME.toString(), data);
            }
        }
        f.segment(name).byteSize();
    }
}
