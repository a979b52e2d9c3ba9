package io.resflow.model;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A JSON parse error in the project's words: where (line and column) and what, without the parser's internal
 * references (configuration class names, {@code [Source: ...]} descriptions).
 */
public final class JsonErrors {
    private static final Pattern CONSTRAINT = Pattern.compile(
            "(.*?) \\((\\d+)\\) exceeds the maximum (?:allowed )?\\((\\d+)[^)]*\\).*", Pattern.DOTALL);
    private static final Pattern SOURCE = Pattern.compile("\\[Source: [^\\]]*?line: (\\d+), column: (\\d+)\\]");
    private static final Pattern SOURCE_ANY = Pattern.compile("\\s*(at )?\\[Source: [^\\]]*\\]");
    private static final Pattern CODE_REF = Pattern.compile(",? ?(from |use |see )?`[A-Za-z0-9_.#()]*`");

    private JsonErrors() {
    }

    /** "malformed JSON at line L, column C: what" (without a location when the parser gives none). */
    public static String describe(JacksonException e) {
        return "malformed JSON" + at(e) + ": " + what(e);
    }

    /** " at line L, column C", or "" when the parser gives no location. */
    public static String at(JacksonException e) {
        JsonLocation loc = e.getLocation();
        return loc == null || loc.getLineNr() < 1 ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
    }

    /** The parser's description, cleaned of its internals. */
    public static String what(JacksonException e) {
        String m = e.getOriginalMessage();
        if (m == null) {
            return "cannot parse";
        }
        if (e instanceof StreamConstraintsException) {
            Matcher c = CONSTRAINT.matcher(m);
            if (c.matches()) {
                return c.group(1).toLowerCase(Locale.ROOT) + " " + c.group(2) + " exceeds the limit of " + c.group(3);
            }
        }
        return clean(m);
    }

    static String clean(String m) {
        String s = SOURCE.matcher(m).replaceAll("line $1, column $2");
        s = SOURCE_ANY.matcher(s).replaceAll("");
        s = CODE_REF.matcher(s).replaceAll("");
        s = s.replace("()", "").replaceAll("\\s+", " ").strip();
        return s.isEmpty() ? "cannot parse" : s;
    }
}
