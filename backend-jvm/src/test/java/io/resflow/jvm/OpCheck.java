package io.resflow.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.engine.Ops;
import io.resflow.reference.ReferenceOps;
import java.util.SplittableRandom;

/**
 * What every jvm op test shares: seeded random inputs, the ReferenceOps oracle, jvm instances with 1, 2 and 3 threads,
 * and the comparison rel_l2 = ||x - r|| / ||r|| within a budget (1e-5 by default; observed <= 5e-7). Gradient
 * outputs start non-zero in the tests to check the += contract.
 */
abstract class OpCheck {
    static final double TOL = 1e-5;

    final SplittableRandom rnd = new SplittableRandom(7);
    final ReferenceOps ref = new ReferenceOps();

    float[] rand(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        }
        return a;
    }

    int[] tokens(int n, int v) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(v);
        }
        return t;
    }

    static double relL2(float[] x, float[] r) {
        assertEquals(r.length, x.length, "length");
        double d = 0;
        double n = 0;
        for (int i = 0; i < x.length; i++) {
            assertTrue(Float.isFinite(x[i]), "non-finite value at " + i);
            double e = (double) x[i] - r[i];
            d += e * e;
            n += (double) r[i] * r[i];
        }
        return n == 0 ? Math.sqrt(d) : Math.sqrt(d / n);
    }

    static void close(String what, float[] x, float[] r) {
        close(what, x, r, TOL);
    }

    static void close(String what, float[] x, float[] r, double tol) {
        double e = relL2(x, r);
        assertTrue(e <= tol, what + ": rel_l2 " + e + " > " + tol);
    }

    static Ops[] jvms() {
        return new Ops[] {new JvmOps(1), new JvmOps(2), new JvmOps(3)};
    }
}
