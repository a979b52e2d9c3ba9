package io.resflow.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The automatic spacing of the cross-rank parameter check: the fewest steps that keep it within 1% of a step. */
class CheckIntervalTest {

    @Test
    void theIntervalKeepsTheCheckWithinOnePercentOfAStep() {
        assertEquals(1, DataParallel.autoInterval(0.1, 100)); // GPT-2 tiny: a 0.1 ms hash, a 100 ms step
        assertEquals(2, DataParallel.autoInterval(50, 4000)); // GPT-2 small on a CPU: 50 ms against 4 s
        assertEquals(13, DataParallel.autoInterval(50, 400)); // the same model on a faster device
        assertEquals(DataParallel.AUTO_MAX, DataParallel.autoInterval(50, 1)); // capped
        assertEquals(1, DataParallel.autoInterval(50, Double.NaN)); // no step time: every step
    }
}
