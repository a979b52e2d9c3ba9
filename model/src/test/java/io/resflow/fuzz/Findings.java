package io.resflow.fuzz;

import io.resflow.model.BadInputException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * What fuzz targets accept from the code under test: a normal result, or a {@link BadInputException} whose message
 * names the input and is in the project's words. Anything else (another exception, an error, a message with a
 * library's internals) is a finding.
 */
public final class Findings {
    /** Fragments that only a library's internals put into a message. */
    static final List<String> LEAKS = List.of("StreamReadConstraints", "[Source", "REDACTED", "Exception", "java.",
            "Input length", "`", "\tat ");

    private Findings() {
    }

    /** Checks a bad-input message for an input named {@code name}; fragments the input itself holds are allowed. */
    public static void check(BadInputException e, String name, byte[] input) {
        String m = e.getMessage();
        if (m == null || !m.startsWith(name)) {
            throw new AssertionError("the message does not start with the input's name '" + name + "': " + m, e);
        }
        String in = new String(input, StandardCharsets.ISO_8859_1) + new String(input, StandardCharsets.UTF_8);
        for (String leak : LEAKS) {
            if (m.contains(leak) && !in.contains(leak)) {
                throw new AssertionError("'" + leak + "' in the message: " + m, e);
            }
        }
    }
}
