package io.resflow.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.resflow.engine.Ops;
import org.junit.jupiter.api.Test;

/**
 * {@link ResidualAdd} against the reference over several chunks: plain, scaled (deepnorm, rezero) and no-skip
 * joins; the gate gradient with and without gradient outputs.
 */
class ResidualAddTest extends OpCheck {

    @Test
    void residual() {
        int n = 2 * JvmOps.CHUNK + 1001;
        float[] skip = rand(n, 1), branch = rand(n, 1), dout = rand(n, 1);
        for (Ops ops : jvms()) {
            for (float[] ag : new float[][] {{1f, 1f}, {1.7f, 0.3f}, {0f, 1f}}) {
                float[] o1 = new float[n], o2 = new float[n];
                ref.residualForward(o1, skip, ag[0], branch, ag[1], n);
                ops.residualForward(o2, skip, ag[0], branch, ag[1], n);
                close("residual fwd", o2, o1);
                float[] ds1 = rand(n, 1), db1 = rand(n, 1), ds2 = ds1.clone(), db2 = db1.clone();
                double g1 = ref.residualBackward(ds1, db1, dout, ag[0], branch, ag[1], n, true);
                double g2 = ops.residualBackward(ds2, db2, dout, ag[0], branch, ag[1], n, true);
                close("residual dskip", ds2, ds1);
                close("residual dbranch", db2, db1);
                assertEquals(g1, g2, 1e-5 * Math.max(1, Math.abs(g1)), "residual dgate");
                double g3 = ops.residualBackward(null, null, dout, ag[0], branch, ag[1], n, true);
                assertEquals(g2, g3, 0.0, "dgate with null outputs");
            }
        }
    }
}
