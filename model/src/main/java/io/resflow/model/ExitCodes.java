package io.resflow.model;

/**
 * The process exit codes every resflow command and rank uses: 0 success, 1 a check or validation failed, 2 bad input
 * ({@link BadInputException}), 3 a runtime failure ({@link RuntimeFailure}, an I/O error, a device error).
 */
public final class ExitCodes {
    public static final int OK = 0;
    public static final int CHECK_FAILED = 1;
    public static final int BAD_INPUT = 2;
    public static final int RUNTIME_FAILURE = 3;

    private ExitCodes() {
    }
}
