package io.resflow.tornado;

import io.resflow.engine.Backend;
import io.resflow.engine.BackendProvider;
import io.resflow.engine.DeviceInfo;
import io.resflow.model.BadInputException;
import io.resflow.model.RuntimeFailure;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import uk.ac.manchester.tornado.api.TornadoBackend;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.TornadoDeviceType;

/**
 * {@code tornado} (TornadoVM's default device) or {@code tornado:<driver>:<device>}. Needs the JVM started with
 * TornadoVM's argfile; without it the provider lists no devices and creating a backend fails with a clear message.
 */
public final class TornadoBackendProvider implements BackendProvider {

    @Override
    public String name() {
        return "tornado";
    }

    @Override
    public Backend create(String args) {
        List<TornadoBackend> backends = backends();
        if (args == null || args.isBlank()) {
            TornadoDevice dev = TornadoExecutionPlan.DEFAULT_DEVICE;
            if (dev == null) {
                dev = backends.getFirst().getDefaultDevice();
            }
            return new io.resflow.tornado.TornadoBackend("tornado", dev, false);
        }
        String[] parts = args.split(":");
        int driver;
        int device;
        try {
            if (parts.length != 2) {
                throw new NumberFormatException();
            }
            driver = Integer.parseInt(parts[0].trim());
            device = Integer.parseInt(parts[1].trim());
        } catch (NumberFormatException e) {
            throw new BadInputException("unknown tornado device '" + args + "': expected tornado:<driver>:<device>, "
                    + "e.g. tornado:0:0 (see 'resflow devices')");
        }
        if (driver < 0 || driver >= backends.size() || device < 0 || device >= backends.get(driver).getNumDevices()) {
            throw new BadInputException("unknown tornado device 'tornado:" + args + "'; available: " + specs());
        }
        return new io.resflow.tornado.TornadoBackend("tornado:" + driver + ":" + device,
                backends.get(driver).getDevice(device), false);
    }

    private static List<TornadoBackend> backends() {
        Oclgrind.redirectKernelSources();
        try {
            List<TornadoBackend> all = TornadoExecutionPlan.getTornadoDeviceMap().getAllBackends();
            if (all.isEmpty()) {
                throw new RuntimeFailure("TornadoVM found no device");
            }
            return all;
        } catch (LinkageError | RuntimeException e) {
            if (e instanceof RuntimeFailure rf) {
                throw rf;
            }
            throw new RuntimeFailure("TornadoVM is not available in this JVM (start it with "
                    + "@$TORNADOVM_HOME/tornado-argfile): " + e, e);
        }
    }

    private static String specs() {
        List<String> s = new ArrayList<>();
        for (DeviceInfo d : new TornadoBackendProvider().devices()) {
            s.add(d.spec());
        }
        return String.join(", ", s);
    }

    @Override
    public List<DeviceInfo> devices() {
        List<DeviceInfo> out = new ArrayList<>();
        List<TornadoBackend> backends;
        try {
            backends = backends();
        } catch (RuntimeFailure e) {
            return out;
        }
        for (int b = 0; b < backends.size(); b++) {
            TornadoBackend backend = backends.get(b);
            for (int i = 0; i < backend.getNumDevices(); i++) {
                TornadoDevice dev = backend.getDevice(i);
                String kind = switch (backend.getBackendType()) {
                    case OPENCL -> "OpenCL";
                    case PTX -> "PTX";
                    case SPIRV -> "SPIR-V";
                    default -> backend.getBackendType().name();
                };
                long mem = dev.getPhysicalDevice().getDeviceGlobalMemorySize();
                String detail = dev.getDeviceType().name().toLowerCase(Locale.ROOT) + ", "
                        + (Oclgrind.is(dev) ? "work-item simulator (checks, not speed), " : "")
                        + String.format(Locale.ROOT, "%.1f GiB global memory", mem / (1024.0 * 1024 * 1024)) + ", "
                        + dev.getPhysicalDevice().getDeviceMaxComputeUnits() + " compute units";
                out.add(new DeviceInfo("tornado:" + b + ":" + i, kind, dev.getPhysicalDevice().getDeviceName(), detail));
            }
        }
        return out;
    }

    /** A non-CPU device other than oclgrind's simulator (which {@code auto} must never pick). */
    @Override
    public boolean hasAccelerator() {
        try {
            for (TornadoBackend backend : backends()) {
                for (int i = 0; i < backend.getNumDevices(); i++) {
                    TornadoDevice dev = backend.getDevice(i);
                    if (dev.getDeviceType() != TornadoDeviceType.CPU && !Oclgrind.is(dev)) {
                        return true;
                    }
                }
            }
        } catch (RuntimeFailure e) {
            return false;
        }
        return false;
    }
}
