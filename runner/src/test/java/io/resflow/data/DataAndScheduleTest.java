package io.resflow.data;

import io.resflow.train.LrSchedule;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The learning rate schedule and the order in which data sources hand out batches. */
class DataAndScheduleTest {

    @Test
    void cosineWithWarmup() {
        LrSchedule s = new LrSchedule(LrSchedule.Kind.COSINE, 1.0, 4, 0.1, 14);
        assertEquals(0.25, s.at(1), 1e-15);
        assertEquals(1.0, s.at(4), 1e-15);
        assertEquals(0.55, s.at(9), 1e-15); // half way through the decay
        assertEquals(0.1, s.at(14), 1e-15);
        assertEquals(0.1, s.at(20), 1e-15); // beyond the end (a run extended with --steps keeps min_lr)
        LrSchedule c = new LrSchedule(LrSchedule.Kind.CONSTANT, 2.0, 2, 2.0, 10);
        assertEquals(1.0, c.at(1), 1e-15);
        assertEquals(2.0, c.at(7), 1e-15);
    }

    @Test
    void tokenStreamReadsInOrderAndWraps() {
        int[] t = new int[21];
        Arrays.setAll(t, i -> i);
        DataSource d = new DataSpec.Inline(t, "test").open(32, 1, 4, 0);
        Batch b = d.next();
        assertArrayEquals(new int[] {0, 1, 2, 3}, b.inputs());
        assertArrayEquals(new int[] {1, 2, 3, 4}, b.targets());
        assertEquals(4, d.position());
        for (int i = 0; i < 4; i++) {
            b = d.next();
        }
        assertArrayEquals(new int[] {17, 18, 19, 20}, b.targets()); // the last batch that fits
        assertArrayEquals(new int[] {0, 1, 2, 3}, d.next().inputs()); // then back to the start
        d.seek(8);
        assertArrayEquals(new int[] {8, 9, 10, 11}, d.next().inputs());
    }

    @Test
    void syntheticBatchesCycle() {
        DataSource d = new DataSpec.Synthetic(2).open(50, 2, 3, 7);
        Batch a = d.next();
        Batch b = d.next();
        Batch c = d.next();
        assertFalse(Arrays.equals(a.inputs(), b.inputs()));
        assertArrayEquals(a.inputs(), c.inputs());
        assertArrayEquals(SyntheticBatch.of(7, 2, 3, 50).inputs(), a.inputs()); // batch 0 is the foundation's batch
        d.seek(1);
        assertArrayEquals(b.targets(), d.next().targets());
    }
}
