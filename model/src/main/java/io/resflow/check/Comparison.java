package io.resflow.check;

/**
 * The comparison rule every backend is held to (see testvectors/README.md), computed in double:
 * rel_l2 = ||x - r|| / ||r||, max_rel = max|x - r| / max|r|; a tensor passes when rel_l2 <= eps and
 * max_rel <= 10 eps. An all-zero computed tensor has rel_l2 = 1 and fails. Where the oracle is all zeros, the
 * computed one passes when max|x| <= 1e-7.
 */
public final class Comparison {
    private Comparison() {
    }

    /** One line of a check table. */
    public record Row(String tensor, double relL2, double maxRel, String budget, boolean ok) {
    }

    public static Row tensor(String name, float[] x, double[] r, double eps) {
        return masked(name, x, r, null, eps);
    }

    public static Row tensor(String name, float[] x, float[] r, double eps) {
        return tensor(name, x, toDouble(r), eps);
    }

    /** The tensor rule over the entries where mask is true (all entries when mask is null). */
    public static Row masked(String name, float[] x, double[] r, boolean[] mask, double eps) {
        if (x.length != r.length) {
            return new Row(name, Double.NaN, Double.NaN, "size " + r.length, false);
        }
        double diff2 = 0;
        double ref2 = 0;
        double maxDiff = 0;
        double maxRef = 0;
        double maxX = 0;
        for (int i = 0; i < x.length; i++) {
            if (mask != null && !mask[i]) {
                continue;
            }
            double d = x[i] - r[i];
            diff2 += d * d;
            ref2 += r[i] * r[i];
            maxDiff = Math.max(maxDiff, Math.abs(d));
            maxRef = Math.max(maxRef, Math.abs(r[i]));
            maxX = Math.max(maxX, Math.abs(x[i]));
            if (!Double.isFinite(x[i])) {
                maxDiff = Double.POSITIVE_INFINITY;
                diff2 = Double.POSITIVE_INFINITY;
            }
        }
        String budget = String.format("rel_l2<=%s max_rel<=%s", num(eps), num(10 * eps));
        if (maxRef == 0) {
            return new Row(name, maxX, maxX, "max|x|<=1e-7 (oracle is zero)", maxX <= 1e-7);
        }
        double rel = Math.sqrt(diff2) / Math.sqrt(ref2);
        double maxRel = maxDiff / maxRef;
        return new Row(name, rel, maxRel, budget, rel <= eps && maxRel <= 10 * eps);
    }

    /** A scalar: |x - r| <= tol * |r|. The row shows the relative error in both columns. */
    public static Row scalar(String name, double x, double r, double tol) {
        double rel = Math.abs(x - r) / Math.abs(r);
        boolean ok = Double.isFinite(x) && Math.abs(x - r) <= tol * Math.abs(r);
        return new Row(name, rel, rel, "|x-r|<=" + num(tol) + "|r|", ok);
    }

    /** A budget as the table prints it: 1e-03 for round ones, three digits (2.47e-02) for a derived one. */
    static String num(double x) {
        String one = String.format(java.util.Locale.ROOT, "%.0e", x);
        return Double.parseDouble(one) == x ? one : String.format(java.util.Locale.ROOT, "%.2e", x);
    }

    /**
     * The update after one AdamW step, d = after - before, against the oracle's d_ref. Over the entries whose oracle
     * gradient is at least 1e-2 of the tensor's largest, d passes the tensor rule with 10 eps; on every entry
     * |d - d_ref| <= 2.5 lr.
     */
    public static Row update(String name, float[] before, float[] after, float[] refAfter, float[] refGrad, double eps,
            double lr) {
        int n = before.length;
        float[] d = new float[n];
        double[] dRef = new double[n];
        boolean[] mask = new boolean[n];
        double maxG = 0;
        for (float g : refGrad) {
            maxG = Math.max(maxG, Math.abs(g));
        }
        double worst = 0;
        for (int i = 0; i < n; i++) {
            d[i] = (float) ((double) after[i] - before[i]);
            dRef[i] = (double) refAfter[i] - before[i];
            mask[i] = Math.abs(refGrad[i]) >= 1e-2 * maxG;
            worst = Math.max(worst, Math.abs(d[i] - dRef[i]));
            if (!Double.isFinite(after[i])) {
                worst = Double.POSITIVE_INFINITY;
            }
        }
        Row r = masked(name, d, dRef, mask, 10 * eps);
        boolean ok = r.ok() && worst <= 2.5 * lr;
        return new Row(name, r.relL2(), r.maxRel(), r.budget() + String.format(", |d-d_ref|<=2.5lr (%.1e)", worst), ok);
    }

    public static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }
}
