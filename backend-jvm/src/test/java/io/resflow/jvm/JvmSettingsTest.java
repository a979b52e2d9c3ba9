package io.resflow.jvm;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.model.BadInputException;
import org.junit.jupiter.api.Test;

/** A wrong tuning switch is a BadInputException naming the property and what it accepts; right ones pass. */
class JvmSettingsTest {

    @Test
    void wrongValuesAreNamed() {
        bad("resflow.jvm.tile", "5x5", "6x4, 4x4, 6x2");
        bad("resflow.jvm.transpose8", "fast", "select, scalar");
        bad("resflow.jvm.kc", "0", "8 to 65536");
        bad("resflow.jvm.kc", "lots", "8 to 65536");
    }

    @Test
    void rightValuesPass() {
        for (String[] kv : new String[][] {{"resflow.jvm.tile", "6x2"}, {"resflow.jvm.kc", "256"},
            {"resflow.jvm.transpose8", "scalar"}}) {
            String old = System.getProperty(kv[0]);
            System.setProperty(kv[0], kv[1]);
            try {
                assertDoesNotThrow(JvmSettings::check);
            } finally {
                restore(kv[0], old);
            }
        }
    }

    private static void bad(String key, String value, String expected) {
        String old = System.getProperty(key);
        System.setProperty(key, value);
        try {
            BadInputException e = assertThrows(BadInputException.class, JvmSettings::check);
            assertTrue(e.getMessage().contains("-D" + key + "=" + value), e.getMessage());
            assertTrue(e.getMessage().contains(expected), e.getMessage());
        } finally {
            restore(key, old);
        }
    }

    private static void restore(String key, String old) {
        if (old == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, old);
        }
    }
}
