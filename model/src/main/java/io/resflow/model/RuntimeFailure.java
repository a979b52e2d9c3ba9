package io.resflow.model;

/** Something went wrong while running (NaN/Inf, a device that failed). The CLI maps it to exit code 3. */
public final class RuntimeFailure extends RuntimeException {
    public RuntimeFailure(String message) {
        super(message);
    }

    public RuntimeFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
