package io.resflow.tornado;

import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import java.util.Locale;
import uk.ac.manchester.tornado.api.common.TornadoDevice;

/**
 * What a device can hold, and the check a session makes against it before it allocates anything: the bytes its
 * {@link DeviceLayout} needs in all must fit the device's global memory and TornadoVM's own cap, and each large array
 * (one device buffer) the device's largest single allocation. A model that does not fit is a
 * {@link BadInputException} (exit 2) naming the sizes and what would make it fit.
 *
 * @param device the device's name, for messages
 * @param globalMemory the device's global memory in bytes (0 or less: unknown)
 * @param maxAlloc the largest single buffer in bytes (0 or less: unknown)
 * @param tornadoCap the device memory TornadoVM lets a process use ({@code -Dtornado.device.memory}, default 4GB)
 */
record DeviceLimits(String device, long globalMemory, long maxAlloc, long tornadoCap) {
    private static final double GIB = 1024.0 * 1024 * 1024;

    static DeviceLimits of(TornadoDevice d) {
        return new DeviceLimits(d.getDeviceName(), d.getPhysicalDevice().getDeviceGlobalMemorySize(),
                d.getMaxAllocMemory(), configuredTornadoCap());
    }

    /**
     * TornadoVM's cap on the device memory of all buffers: the system property {@code tornado.device.memory} (default
     * "4GB"), read as TornadoVM reads it when it starts (RuntimeUtilities.parseSize: a number, optionally followed by
     * K, M, G, T, P or E and B, in powers of 1024).
     */
    static long configuredTornadoCap() {
        return parseSize(System.getProperty("tornado.device.memory", "4GB"));
    }

    static long parseSize(String s) {
        String v = s.strip();
        try {
            if (!v.endsWith("B")) {
                return Long.parseLong(v);
            }
            int b = v.indexOf('B');
            char unit = b > 0 ? v.charAt(b - 1) : ' ';
            int power = "KMGTPE".indexOf(unit);
            if (power < 0) {
                return Long.parseLong(v.substring(0, b));
            }
            return Long.parseLong(v.substring(0, b - 1)) * (long) Math.pow(1024, power + 1);
        } catch (NumberFormatException e) {
            throw new BadInputException("-Dtornado.device.memory=" + s + ": not a size (e.g. 4GB, 512MB)");
        }
    }

    /** Throws {@link BadInputException} unless the layout's buffers fit this device; allocates nothing. */
    void requireFits(ModelConfig c, DeviceLayout d) {
        DeviceLayout.Bytes b = d.bytes();
        DeviceLayout re = d.withRecompute(c);
        DeviceLayout.Bytes withRecompute = re.bytes();
        boolean capBinds = tornadoCap > 0 && (globalMemory <= 0 || tornadoCap < globalMemory);
        long limit = capBinds ? tornadoCap : globalMemory;
        if (limit > 0 && b.total() > limit) {
            String where = capBinds
                    ? "TornadoVM allows " + size(tornadoCap) + " on " + device
                            + " (-Dtornado.device.memory, default 4GB"
                            + (globalMemory > 0 ? "; the device has " + size(globalMemory) : "") + ")"
                    : device + " has " + size(globalMemory);
            String raise = capBinds && (globalMemory <= 0 || b.total() <= globalMemory)
                    ? ", or raise -Dtornado.device.memory (with ./resflow: RESFLOW_JAVA_OPTS)" : "";
            throw new BadInputException("the model needs " + size(b.total()) + " of device memory (parameters "
                    + size(b.parameters()) + ", gradients " + size(b.gradients()) + ", optimizer state "
                    + size(b.optimizer()) + ", activations " + size(b.activations()) + ", recompute "
                    + (d.recompute ? "on" : "off") + ") but " + where + "; "
                    + suggestion(d, withRecompute, withRecompute.total() <= limit) + raise);
        }
        if (maxAlloc > 0) {
            long[] sizes = {d.paramBytes(), d.actBytes(), d.dactBytes()};
            long[] recomputed = {re.paramBytes(), re.actBytes(), re.dactBytes()};
            String[] what = {"parameters", "activations", "activation gradients"};
            for (int i = 0; i < sizes.length; i++) {
                if (sizes[i] > maxAlloc) {
                    throw new BadInputException("the " + what[i] + " need one device buffer of " + size(sizes[i])
                            + " but " + device + " allows at most " + size(maxAlloc) + " per buffer; "
                            + suggestion(d, withRecompute, recomputed[i] <= maxAlloc));
                }
            }
        }
    }

    /** Bytes as MiB below 1 GiB, else GiB. */
    static String size(long bytes) {
        return bytes < GIB ? String.format(Locale.ROOT, "%.1f MiB", bytes / (GIB / 1024))
                : String.format(Locale.ROOT, "%.2f GiB", bytes / GIB);
    }

    private static String suggestion(DeviceLayout d, DeviceLayout.Bytes withRecompute, boolean recomputeFits) {
        if (!d.recompute && recomputeFits) {
            return "set \"recompute\": true in the run config (activations " + size(withRecompute.activations())
                    + ", total " + size(withRecompute.total()) + ") or use a smaller batch than " + d.B;
        }
        return "use a smaller batch than " + d.B + (d.recompute ? "" : " (with \"recompute\": true)")
                + ", a shorter seq_len than " + d.T + " or a smaller model";
    }
}
