package io.resflow.out;

import io.resflow.model.RuntimeFailure;
import io.resflow.safetensors.SafeTensorsWriter;
import java.io.IOException;
import java.nio.file.Path;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.internal.chartpart.Chart;

/** Charts written as PNG files, atomically (temporary file, then rename) like every other output. */
public final class Png {
    private Png() {
    }

    /** Renders {@code chart} and writes it to {@code file}; a failed write is a runtime failure (exit 3). */
    public static void write(Path file, Chart<?, ?> chart) {
        byte[] png;
        try {
            png = BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new RuntimeFailure(file + ": cannot render the chart: " + io.resflow.model.IoErrors.describe(e), e);
        }
        SafeTensorsWriter.writeAtomically(file, png);
    }
}
