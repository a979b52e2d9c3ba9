package io.resflow.bench;

import java.util.Arrays;

/**
 * Summary of repeated measurements. The spread is the median absolute deviation from the median (robust to a
 * single outlier such as a GC pause).
 */
public record Stats(double median, double spread, double min, double max, double mean, double stddev) {

    static Stats of(double[] x) {
        if (x.length == 0) {
            return new Stats(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        }
        double[] s = x.clone();
        Arrays.sort(s);
        double med = median(s);
        double[] dev = new double[s.length];
        double sum = 0;
        for (int i = 0; i < s.length; i++) {
            dev[i] = Math.abs(s[i] - med);
            sum += s[i];
        }
        Arrays.sort(dev);
        double mean = sum / s.length;
        double var = 0;
        for (double v : s) {
            var += (v - mean) * (v - mean);
        }
        double sd = s.length > 1 ? Math.sqrt(var / (s.length - 1)) : 0;
        return new Stats(med, median(dev), s[0], s[s.length - 1], mean, sd);
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }
}
