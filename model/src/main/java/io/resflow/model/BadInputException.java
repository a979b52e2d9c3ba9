package io.resflow.model;

/** Input the user gave is wrong (config, weights, tokens, arguments). The CLI maps it to exit code 2. */
public final class BadInputException extends RuntimeException {
    public BadInputException(String message) {
        super(message);
    }

    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
