package io.resflow.tornado;

import io.resflow.engine.Backend;
import io.resflow.engine.Precision;
import io.resflow.engine.SessionOptions;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import java.util.EnumSet;
import java.util.Set;
import uk.ac.manchester.tornado.api.common.TornadoDevice;

/**
 * The tornado backend on one device. {@code strict} (or the system property {@code resflow.tornado.strict=true})
 * checks every task's device kernel time on every execution, not only on each graph's first.
 */
public final class TornadoBackend implements Backend {
    private final String id;
    private final TornadoDevice device;
    private final boolean strict;

    public TornadoBackend(String id, TornadoDevice device, boolean strict) {
        this.id = id;
        this.device = device;
        this.strict = strict || Boolean.getBoolean("resflow.tornado.strict");
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public String description() {
        return "TornadoVM " + device.getTornadoVMBackend() + " on " + device.getPhysicalDevice().getDeviceName() + " ("
                + device.getDeviceType() + ", " + device.getPhysicalDevice().getDeviceMaxComputeUnits()
                + " compute units)";
    }

    /** fp32, and bf16 (16-bit weight copies and the rounding points on the device: {@link TornadoSession}). */
    @Override
    public Set<Precision> precisions() {
        return EnumSet.allOf(Precision.class);
    }

    @Override
    public TornadoSession open(ModelConfig config, Params init, int batch, int seqLen, SessionOptions options) {
        requirePrecision(options.precision());
        return new TornadoSession(config, init, batch, seqLen, options.recompute(), device, strict,
                options.gradientExchange(), options.precision());
    }

    @Override
    public TornadoDecoder openDecoder(ModelConfig config, Params params, int capacity) {
        return openDecoder(config, params, capacity, Precision.FP32);
    }

    @Override
    public TornadoDecoder openDecoder(ModelConfig config, Params params, int capacity, Precision precision) {
        requirePrecision(precision);
        return new TornadoDecoder(config, params, capacity, device, strict,
                description() + (precision == Precision.BF16 ? ", bf16" : ""), precision);
    }

    public TornadoDevice device() {
        return device;
    }
}
