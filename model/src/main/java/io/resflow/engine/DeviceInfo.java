package io.resflow.engine;

/** One line of {@code resflow devices}. */
public record DeviceInfo(String spec, String kind, String name, String detail) {
}
