package io.resflow.text;

import java.util.ArrayList;
import java.util.List;

/**
 * Cuts a text into pieces of about {@code target} characters, each cut just after a {@code '\n'} that a
 * non-whitespace character follows (see {@link Tokenizer#cutsAtLineStarts}); a text with no such place stays whole.
 */
public final class TextChunks {
    private TextChunks() {
    }

    public static List<String> split(String text, int target) {
        List<String> out = new ArrayList<>();
        int from = 0;
        while (from < text.length()) {
            int cut = -1;
            for (int i = Math.max(from + target, from + 1); i < text.length(); i++) {
                if (text.charAt(i - 1) == '\n' && !Character.isWhitespace(text.codePointAt(i))) {
                    cut = i;
                    break;
                }
            }
            if (cut < 0) {
                out.add(text.substring(from));
                break;
            }
            out.add(text.substring(from, cut));
            from = cut;
        }
        return out;
    }
}
