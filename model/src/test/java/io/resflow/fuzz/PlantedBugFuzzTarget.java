package io.resflow.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * The planted bug as a fuzz target. Not a test of the suite (the name does not end in Test): {@link FuzzCampaign}
 * runs it in fuzzing mode and requires that the fuzzer finds the bug ({@code FuzzerSeesCoverageTest}, and
 * {@code scripts/fuzz.sh} before every campaign).
 */
class PlantedBugFuzzTarget {
    @FuzzTest(maxDuration = "120s")
    void planted(byte[] data) {
        PlantedBug.parse(data);
    }
}
