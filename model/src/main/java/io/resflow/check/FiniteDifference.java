package io.resflow.check;

import java.util.function.DoubleSupplier;

/**
 * Central finite differences, evaluated and compared in double precision:
 * dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h, with h scaled to the entry's magnitude. The inputs are float, so the
 * perturbed value actually used is (float) (x_i +- h), and the divisor is that actual difference.
 */
public final class FiniteDifference {
    private FiniteDifference() {
    }

    /** Numerical derivative of {@code loss} with respect to {@code x[i]}; restores x[i]. */
    public static double derivative(float[] x, int i, double relStep, DoubleSupplier loss) {
        float orig = x[i];
        double h = relStep * Math.max(1.0, Math.abs(orig));
        float plus = (float) (orig + h);
        float minus = (float) (orig - h);
        x[i] = plus;
        double lp = loss.getAsDouble();
        x[i] = minus;
        double lm = loss.getAsDouble();
        x[i] = orig;
        return (lp - lm) / ((double) plus - (double) minus);
    }

    /** Result of comparing analytic and numerical gradients over some entries of one tensor. */
    public record Result(String name, int checked, double relL2, double maxAbsErr, double maxAbsGrad) {
        public boolean ok(double tol) {
            return relL2 <= tol || maxAbsErr <= 1e-6;
        }
    }

    /**
     * Compares {@code analytic} with finite differences of {@code loss} on the entries {@code idx} of x.
     * relL2 = ||numeric - analytic|| / max(||numeric||, tiny) over those entries.
     */
    public static Result compare(String name, float[] x, float[] analytic, int[] idx, double relStep,
            DoubleSupplier loss) {
        double diff = 0;
        double norm = 0;
        double maxErr = 0;
        double maxG = 0;
        for (int i : idx) {
            double num = derivative(x, i, relStep, loss);
            double a = analytic[i];
            diff += (num - a) * (num - a);
            norm += num * num;
            maxErr = Math.max(maxErr, Math.abs(num - a));
            maxG = Math.max(maxG, Math.abs(num));
        }
        double rel = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
        return new Result(name, idx.length, rel, maxErr, maxG);
    }

    /** Up to {@code max} indices of an array of length n, evenly spread, always including the first and last. */
    public static int[] sample(int n, int max) {
        if (n <= max) {
            int[] all = new int[n];
            for (int i = 0; i < n; i++) {
                all[i] = i;
            }
            return all;
        }
        int[] idx = new int[max];
        for (int j = 0; j < max; j++) {
            idx[j] = (int) ((long) j * (n - 1) / (max - 1));
        }
        return idx;
    }
}
