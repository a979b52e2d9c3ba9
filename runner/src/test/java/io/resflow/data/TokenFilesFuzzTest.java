package io.resflow.data;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.resflow.fuzz.Findings;
import io.resflow.model.BadInputException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Fuzzes the token-file readers (llm.c .bin and UTF-8 text) and the stream over them. The first five bytes choose
 * the vocabulary size (2 bytes), batch, sequence length and the format; the rest is the file. Every input is either
 * a stream whose batches hold only ids below the vocabulary, each target the next input, or bad input named by the
 * file.
 */
class TokenFilesFuzzTest {
    private static final Path NAME = Path.of("fuzz.bin");

    @FuzzTest(maxDuration = "60s")
    void tokenFile(byte[] data) {
        if (data.length < 5) {
            return;
        }
        int vocab = 1 + ((data[0] & 0xff) | (data[1] & 0xff) << 8);
        int batch = 1 + (data[2] & 3);
        int seqLen = 1 + (data[3] & 15);
        boolean text = (data[4] & 1) == 1;
        byte[] file = Arrays.copyOfRange(data, 5, data.length);
        TokenStream s;
        try {
            s = text ? TokenFiles.fromText(NAME, file, vocab, batch, seqLen)
                    : TokenFiles.fromBin(NAME, MemorySegment.ofArray(file), vocab, batch, seqLen);
        } catch (BadInputException e) {
            Findings.check(e, NAME.toString(), data);
            return;
        }
        if (s.sha256() == null || s.sha256().length() != 64) {
            throw new AssertionError("no content hash");
        }
        for (int k = 0; k < 3; k++) {
            long at = s.position();
            Batch b = s.next();
            if (b.inputs().length != batch * seqLen || b.targets().length != batch * seqLen) {
                throw new AssertionError("batch of " + b.inputs().length);
            }
            for (int i = 0; i < b.inputs().length; i++) {
                if (b.inputs()[i] < 0 || b.inputs()[i] >= vocab || b.targets()[i] < 0 || b.targets()[i] >= vocab) {
                    throw new AssertionError("id out of range at " + i);
                }
                if (i + 1 < b.inputs().length && b.targets()[i] != b.inputs()[i + 1]) {
                    throw new AssertionError("targets are not the inputs shifted by one at " + i);
                }
            }
            s.seek(s.position());
            if (s.position() < 0 || (s.position() <= at && s.position() != batch * seqLen)) {
                // the position moves on by B*T, or wraps to 0 and then moves on by B*T
                throw new AssertionError("position " + at + " -> " + s.position());
            }
        }
    }
}
