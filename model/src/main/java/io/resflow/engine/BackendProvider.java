package io.resflow.engine;

import java.util.List;

/**
 * Found with {@link java.util.ServiceLoader}: each backend module registers one, so the runner works with whichever
 * modules are on the class path.
 */
public interface BackendProvider {

    /** The backend name before any ':' (reference, jvm, tornado). */
    String name();

    /**
     * Creates the backend for a spec such as {@code tornado:0:1}; {@code args} is what follows the name and its
     * colon (empty when none). Throws BadInputException for an unknown device.
     */
    Backend create(String args);

    /** Devices this provider can run on, for {@code resflow devices}. */
    List<DeviceInfo> devices();

    /** Whether this provider offers a non-CPU accelerator that {@code auto} should prefer. */
    default boolean hasAccelerator() {
        return false;
    }

    /** Lower is preferred by {@code auto} among providers without an accelerator. */
    default int autoRank() {
        return 100;
    }
}
