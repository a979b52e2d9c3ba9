package io.resflow.tornado;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resflow.engine.SessionOptions;
import io.resflow.model.Activation;
import io.resflow.model.BadInputException;
import io.resflow.model.Family;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.ModelConfigs;
import io.resflow.model.Norm;
import io.resflow.model.Positions;
import io.resflow.model.Residual;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * The device bytes a session needs, from the layout's own arithmetic (no device involved, except the last test), and
 * the check made against the device's limits before anything is allocated.
 */
class DeviceLayoutTest {
    private static final double GIB = 1024.0 * 1024 * 1024;
    private static final double MIB = 1024.0 * 1024;

    /** gpt2 family, 256 layers, d_model 256, 4 heads, vocab 256 (bytes), as in the README's depth section. */
    static ModelConfig deep256Wide() {
        return new ModelConfig(Family.GPT2, 256, 256, 4, 4, 64, 1024, 256, 256, Norm.LAYERNORM, 1e-5,
                Activation.GELU_TANH, Positions.LEARNED, 10000, true, Residual.PRE, 1234);
    }

    private static String row(String what, DeviceLayout d) {
        DeviceLayout.Bytes b = d.bytes();
        return String.format(Locale.ROOT, "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |", what,
                d.recompute ? "on" : "off", b.parameters() / GIB, b.gradients() / GIB, b.optimizer() / GIB,
                b.activations() / GIB, b.total() / GIB,
                Math.max(d.paramBytes(), Math.max(d.actBytes(), d.dactBytes())) / GIB);
    }

    /**
     * Prints the README's table (GiB): a 256-layer, d_model-256 model at B=4, T=256 and GPT-2 small at B=4, T=64, with
     * and without recompute; the deep one must fit 24 GiB with recompute.
     */
    @Test
    void deep256WideFits24GiBWithRecompute() {
        ModelConfig c = deep256Wide();
        DeviceLayout on = new DeviceLayout(c, 4, 256, true);
        DeviceLayout off = new DeviceLayout(c, 4, 256, false);
        System.out.println("| model | recompute | parameters | gradients | optimizer state | activations | total | "
                + "largest buffer |");
        System.out.println("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        String what = String.format(Locale.ROOT, "%d layers, d_model %d, %,d parameters, B=4, T=256", c.nLayer(),
                c.dModel(), c.parameterCount());
        System.out.println(row(what, on));
        System.out.println(row(what, off));
        ModelConfig small = ModelConfigs.load(Path.of("..", "configs", "models", "gpt2-small.json"));
        String gpt2 = String.format(Locale.ROOT, "GPT-2 small, %,d parameters, B=4, T=64", small.parameterCount());
        System.out.println(row(gpt2, new DeviceLayout(small, 4, 64, true)));
        System.out.println(row(gpt2, new DeviceLayout(small, 4, 64, false)));
        assertEquals(4L * c.parameterCount(), on.bytes().parameters());
        assertTrue(on.bytes().total() < 24 * GIB, row(what, on));
        assertTrue(off.bytes().activations() > 4 * on.bytes().activations());
        assertDoesNotThrow(on::requireIntOffsets);
    }

    /** configs/deep-128.json: the activations with recompute at least 4x smaller than without (jvm: 38 vs 295 MiB). */
    @Test
    void deep128ActivationsShrinkFourfold() throws IOException {
        JsonNode run = new ObjectMapper().readTree(Path.of("..", "configs", "deep-128.json").toFile());
        ModelConfig c = ModelConfigs.fromJson(run.get("model"), "configs/deep-128.json");
        int batch = run.get("batch").asInt();
        int seq = run.get("seq_len").asInt();
        long on = new DeviceLayout(c, batch, seq, true).bytes().activations();
        long off = new DeviceLayout(c, batch, seq, false).bytes().activations();
        System.out.printf(Locale.ROOT, "deep-128 (B=%d, T=%d): activations %.1f MiB with recompute, %.1f MiB without%n",
                batch, seq, on / MIB, off / MIB);
        assertTrue(4 * on <= off, on + " vs " + off);
    }

    @Test
    void tornadoCapIsParsedAsTornadoVMDoes() {
        assertEquals(4L << 30, DeviceLimits.parseSize("4GB"));
        assertEquals(512L << 20, DeviceLimits.parseSize("512MB"));
        assertEquals(1000, DeviceLimits.parseSize("1000"));
        assertEquals(1000, DeviceLimits.parseSize("1000B"));
        assertThrows(BadInputException.class, () -> DeviceLimits.parseSize("lots"));
    }

    @Test
    void tooLargeForTheDeviceIsBadInputNamingTheSizes() {
        ModelConfig c = deep256Wide();
        DeviceLayout off = new DeviceLayout(c, 4, 256, false);
        DeviceLayout on = new DeviceLayout(c, 4, 256, true);
        // a 24 GiB device with a quarter of it per buffer (common for OpenCL GPUs) and TornadoVM's cap raised to it
        DeviceLimits gpu = new DeviceLimits("gpu", 24L << 30, 6L << 30, 24L << 30);
        assertDoesNotThrow(() -> gpu.requireFits(c, on));
        assertDoesNotThrow(() -> gpu.requireFits(c, off));
        // TornadoVM's default cap of 4GB: fits only with recompute
        DeviceLimits capped = new DeviceLimits("gpu", 24L << 30, 6L << 30, 4L << 30);
        assertDoesNotThrow(() -> capped.requireFits(c, on));
        String m = assertThrows(BadInputException.class, () -> capped.requireFits(c, off)).getMessage();
        System.out.println(m);
        assertTrue(m.contains(String.format(Locale.ROOT, "needs %.2f GiB", off.bytes().total() / GIB)), m);
        assertTrue(m.contains("TornadoVM allows 4.00 GiB") && m.contains("-Dtornado.device.memory"), m);
        assertTrue(m.contains("\"recompute\": true") && m.contains("smaller batch than 4"), m);
        // a small device: the device's memory is the limit, and recompute is not enough
        DeviceLimits small = new DeviceLimits("small", 2L << 30, 1L << 30, 4L << 30);
        m = assertThrows(BadInputException.class, () -> small.requireFits(c, on)).getMessage();
        System.out.println(m);
        assertTrue(m.contains("small has 2.00 GiB") && m.contains("recompute on") && m.contains("smaller batch"), m);
        // one buffer larger than the largest allocation
        DeviceLimits narrow = new DeviceLimits("narrow", 64L << 30, 4L << 30, 64L << 30);
        m = assertThrows(BadInputException.class, () -> narrow.requireFits(c, off)).getMessage();
        System.out.println(m);
        assertTrue(m.contains("the activations need one device buffer of") && m.contains("\"recompute\": true"), m);
    }

    /** On the device: opening a session that does not fit TornadoVM's cap fails before any buffer exists. */
    @Test
    void openingASessionChecksBeforeAllocating() {
        TornadoBackend backend = (TornadoBackend) new TornadoBackendProvider().create("");
        ModelConfig c = TornadoBackendTest.gpt2(4, 4, 8, 64, 64, Residual.PRE, true, 3);
        String was = System.getProperty("tornado.device.memory");
        System.setProperty("tornado.device.memory", "1MB");
        try {
            String m = assertThrows(BadInputException.class,
                    () -> backend.open(c, Initializer.init(c), 4, 32, SessionOptions.DEFAULT)).getMessage();
            System.out.println(m);
            assertTrue(m.contains("TornadoVM allows") && m.contains("recompute off"), m);
        } finally {
            if (was == null) {
                System.clearProperty("tornado.device.memory");
            } else {
                System.setProperty("tornado.device.memory", was);
            }
        }
    }
}
