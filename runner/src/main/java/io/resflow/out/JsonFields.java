package io.resflow.out;

import com.fasterxml.jackson.databind.JsonNode;
import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfigs;
import java.nio.file.Path;
import java.util.Set;

/** Strict reading of JSON config fields: every error names the file and the field. */
public final class JsonFields {
    private final JsonNode node;
    private final Path file;
    private final String prefix;

    public JsonFields(JsonNode node, Path file) {
        this(node, file, "");
    }

    /** Fields of a nested object; {@code prefix} (e.g. {@code "data."}) is put before field names in messages. */
    public JsonFields(JsonNode node, Path file, String prefix) {
        this.node = node;
        this.file = file;
        this.prefix = prefix;
    }

    public static JsonNode read(Path file) {
        JsonNode n = ModelConfigs.readJson(file);
        if (!n.isObject()) {
            throw new BadInputException(file + ": expected a JSON object");
        }
        return n;
    }

    public void allowOnly(Set<String> fields) {
        for (var it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!fields.contains(f)) {
                throw new BadInputException(file + ": unknown field '" + prefix + f + "' (allowed: " + String.join(", ", new java.util.TreeSet<>(fields)) + ")");
            }
        }
    }

    JsonNode get(String field) {
        return node.get(field);
    }

    // ---- required fields (files the project wrote itself, e.g. a bench.json read back for a merge) ----

    public boolean has(String field) {
        return node.has(field);
    }

    /** A field that must be present, of any type. */
    public JsonNode required(String field) {
        JsonNode n = node.get(field);
        if (n == null) {
            throw new BadInputException(file + ": missing field '" + prefix + field + "'");
        }
        return n;
    }

    /** A required string. */
    public String text(String field) {
        JsonNode n = required(field);
        if (!n.isTextual()) {
            throw new BadInputException(file + ": field '" + prefix + field + "' must be a string, got " + n);
        }
        return n.asText();
    }

    /** A required integer. */
    public int integer(String field) {
        JsonNode n = required(field);
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw new BadInputException(file + ": field '" + prefix + field + "' must be an integer, got " + n);
        }
        return n.asInt();
    }

    /** A required number; null (how the project's JSON writes a value that is not finite) is NaN. */
    public double numberOrNaN(String field) {
        JsonNode n = required(field);
        if (n.isNull()) {
            return Double.NaN;
        }
        if (!n.isNumber()) {
            throw new BadInputException(file + ": field '" + prefix + field + "' must be a number, got " + n);
        }
        return n.asDouble();
    }

    /** A required object's fields, named {@code prefix + field + "."} in messages. */
    public JsonFields object(String field) {
        JsonNode n = required(field);
        if (!n.isObject()) {
            throw new BadInputException(file + ": field '" + prefix + field + "' must be an object, got " + n);
        }
        return new JsonFields(n, file, prefix + field + ".");
    }

    public Path file() {
        return file;
    }

    /** The prefix of this object's field names in messages, e.g. {@code cells[3].}. */
    public String prefix() {
        return prefix;
    }

    public int integer(String field, int dflt, int min) {
        JsonNode n = node.get(field);
        if (n == null) {
            return dflt;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw new BadInputException(file + ": field '" + prefix + field + "' must be an integer, got " + n);
        }
        if (n.asInt() < min) {
            throw new BadInputException(file + ": field '" + prefix + field + "' must be >= " + min + ", got " + n.asInt());
        }
        return n.asInt();
    }

    public long longValue(String field, long dflt) {
        JsonNode n = node.get(field);
        if (n == null) {
            return dflt;
        }
        if (!n.isIntegralNumber() || !n.canConvertToLong()) {
            throw new BadInputException(file + ": field '" + prefix + field + "' must be an integer, got " + n);
        }
        return n.asLong();
    }

    public double number(String field, double dflt, double min) {
        JsonNode n = node.get(field);
        if (n == null) {
            return dflt;
        }
        if (!n.isNumber() || !Double.isFinite(n.asDouble())) {
            throw new BadInputException(file + ": field '" + prefix + field + "' must be a number, got " + n);
        }
        if (n.asDouble() < min) {
            throw new BadInputException(file + ": field '" + prefix + field + "' must be >= " + min + ", got " + n.asDouble());
        }
        return n.asDouble();
    }

    public boolean bool(String field, boolean dflt) {
        JsonNode n = node.get(field);
        if (n == null) {
            return dflt;
        }
        if (!n.isBoolean()) {
            throw new BadInputException(file + ": field '" + prefix + field + "' must be true or false, got " + n);
        }
        return n.asBoolean();
    }

    public String text(String field, String dflt) {
        JsonNode n = node.get(field);
        if (n == null) {
            return dflt;
        }
        if (!n.isTextual()) {
            throw new BadInputException(file + ": field '" + prefix + field + "' must be a string, got " + n);
        }
        return n.asText();
    }

    /** A string that must be one of {@code allowed}. */
    public String choice(String field, String dflt, java.util.List<String> allowed) {
        String v = text(field, dflt);
        if (!allowed.contains(v)) {
            throw new BadInputException(file + ": field '" + prefix + field + "' must be one of " + String.join(", ", allowed)
                    + ", got '" + v + "'");
        }
        return v;
    }

    /** A number in [min, max). */
    public double numberBelow(String field, double dflt, double min, double max) {
        double v = number(field, dflt, min);
        if (v >= max) {
            throw new BadInputException(file + ": field '" + prefix + field + "' must be below " + max + ", got " + v);
        }
        return v;
    }
}
