package io.resflow.jvm.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Prints a JMH JSON result file ({@code -rf json}) as a table in the units the README promises: time per call,
 * GFLOP/s, GB/s, and the fraction of the FMA peak measured in the same run ({@link FmaPeakBenchmark}: the all-cores
 * peak for multi-threaded kernels, the one-core peak for single-threaded ones). The work of each call comes from the
 * benchmark class's {@code static Work work(String method, Map<String, String> params)}.
 *
 * <pre>java -cp &lt;test class path&gt; io.resflow.jvm.bench.JmhTable target/jmh/result.json</pre>
 */
public final class JmhTable {
    private JmhTable() {
    }

    record Row(String cls, String method, Map<String, String> params, int threads, double secondsPerCall,
            double errorSeconds, double medianSecondsPerCall, Work work, boolean singleThreadKernel) {
        String name() {
            String n = cls.substring(cls.lastIndexOf('.') + 1).replace("Benchmark", "") + "." + method;
            return params.isEmpty() ? n : n + " " + String.join(",", params.values());
        }

        /** GFLOP/s of the whole run (JMH threads each ran the call). */
        double gflops() {
            return work.flops() * threads / secondsPerCall / 1e9;
        }

        double gbps() {
            return work.bytes() * threads / secondsPerCall / 1e9;
        }

        /** GFLOP/s at the median measurement iteration (over all forks). */
        double medianGflops() {
            return work.flops() * threads / medianSecondsPerCall / 1e9;
        }
    }

    public static void main(String[] args) throws IOException, ReflectiveOperationException {
        if (args.length != 1) {
            System.err.println("usage: JmhTable RESULT.json");
            System.exit(2);
        }
        List<Row> rows = read(Path.of(args[0]));
        System.out.print(format(rows));
    }

    static List<Row> read(Path file) throws IOException, ReflectiveOperationException {
        JsonNode root = new ObjectMapper().readTree(file.toFile());
        List<Row> rows = new ArrayList<>();
        for (JsonNode b : root) {
            String full = b.get("benchmark").asText();
            String cls = full.substring(0, full.lastIndexOf('.'));
            String method = full.substring(full.lastIndexOf('.') + 1);
            Map<String, String> params = new LinkedHashMap<>();
            JsonNode p = b.get("params");
            if (p != null) {
                for (Iterator<Map.Entry<String, JsonNode>> it = p.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    params.put(e.getKey(), e.getValue().asText());
                }
            }
            JsonNode pm = b.get("primaryMetric");
            String mode = b.get("mode").asText();
            double score = pm.get("score").asDouble();
            double err = pm.get("scoreError").isNumber() ? pm.get("scoreError").asDouble() : Double.NaN;
            String unit = pm.get("scoreUnit").asText();
            double median = median(pm.get("rawData"), score);
            double perCall;
            double errSeconds;
            double medianPerCall;
            if (mode.equals("avgt") || mode.equals("ss") || mode.equals("sample")) {
                double s = seconds(unit.substring(0, unit.indexOf('/')));
                perCall = score * s;
                errSeconds = err * s;
                medianPerCall = median * s;
            } else if (mode.equals("thrpt")) {
                double s = seconds(unit.substring(unit.indexOf('/') + 1));
                perCall = s / score;
                errSeconds = perCall * err / score;
                medianPerCall = s / median;
            } else {
                throw new IllegalArgumentException(full + ": mode " + mode);
            }
            Class<?> c = Class.forName(cls);
            Method m = c.getMethod("work", String.class, Map.class);
            Work w = (Work) m.invoke(null, method, params);
            rows.add(new Row(cls, method, params, b.get("threads").asInt(), perCall, errSeconds, medianPerCall, w,
                    method.endsWith("OneCore")));
        }
        return rows;
    }

    /**
     * The median of the measurement iterations of every fork (JMH's rawData), or the score when there are none. The
     * score is their mean; the median is what a host that slows a few iterations down (other virtual machines on the
     * same hardware) leaves least changed, so the table gives both.
     */
    static double median(JsonNode rawData, double score) {
        List<Double> v = new ArrayList<>();
        if (rawData != null) {
            for (JsonNode fork : rawData) {
                for (JsonNode x : fork) {
                    v.add(x.asDouble());
                }
            }
        }
        if (v.isEmpty()) {
            return score;
        }
        v.sort(null);
        int n = v.size();
        return n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2;
    }

    private static double seconds(String unit) {
        return switch (unit) {
            case "s" -> 1;
            case "ms" -> 1e-3;
            case "us" -> 1e-6;
            case "ns" -> 1e-9;
            default -> throw new IllegalArgumentException("time unit " + unit);
        };
    }

    static String format(List<Row> rows) {
        double peakAll = Double.NaN;
        double peakOne = Double.NaN;
        double medPeakAll = Double.NaN;
        double medPeakOne = Double.NaN;
        for (Row r : rows) {
            if (r.method().equals("fmaPeakAllCores")) {
                peakAll = r.gflops();
                medPeakAll = r.medianGflops();
            } else if (r.method().equals("fmaPeakOneCore")) {
                peakOne = r.gflops();
                medPeakOne = r.medianGflops();
            }
        }
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "JMH results, %s, FloatVector %d-bit (%d lanes), %d CPUs%n",
                System.getProperty("java.vm.name") + " " + System.getProperty("java.version"),
                jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize(),
                jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length(), Runtime.getRuntime().availableProcessors()));
        sb.append("(vector width of this JVM; the benchmark forks get the same unless -jvmArgsAppend changes it)\n");
        sb.append("(GFLOP/s and of peak: JMH's score, the mean of the iterations; median: the median iteration, "
                + "against the FMA benchmark's median)\n");
        String fmt = "%-52s %14s %11s %9s %9s %8s %9s %8s%n";
        sb.append(String.format(Locale.ROOT, fmt, "benchmark", "time/call", "+-", "GFLOP/s", "GB/s", "of peak",
                "median", "of peak"));
        for (Row r : rows) {
            double peak = r.singleThreadKernel() ? peakOne : peakAll;
            double medPeak = r.singleThreadKernel() ? medPeakOne : medPeakAll;
            boolean flops = r.work().flops() > 0;
            boolean frac = flops && Double.isFinite(peak) && !r.method().startsWith("fmaPeak");
            sb.append(String.format(Locale.ROOT, fmt, r.name(), time(r.secondsPerCall()), time(r.errorSeconds()),
                    flops ? String.format(Locale.ROOT, "%.1f", r.gflops()) : "",
                    r.work().bytes() > 0 ? String.format(Locale.ROOT, "%.1f", r.gbps()) : "",
                    frac ? String.format(Locale.ROOT, "%.1f%%", 100 * r.gflops() / peak) : "",
                    flops ? String.format(Locale.ROOT, "%.1f", r.medianGflops()) : "",
                    frac ? String.format(Locale.ROOT, "%.1f%%", 100 * r.medianGflops() / medPeak) : ""));
        }
        if (Double.isFinite(peakAll)) {
            sb.append(String.format(Locale.ROOT, "FMA peak in this run: %.1f GFLOP/s all cores%s%n", peakAll,
                    Double.isFinite(peakOne) ? String.format(Locale.ROOT, ", %.1f GFLOP/s one core", peakOne) : ""));
        } else {
            sb.append("FMA peak not in this run (add FmaPeak to the benchmark pattern for the 'of peak' column)\n");
        }
        return sb.toString();
    }

    private static String time(double s) {
        if (!Double.isFinite(s)) {
            return "";
        }
        if (s >= 1e-1) {
            return String.format(Locale.ROOT, "%.1f ms", s * 1e3);
        }
        if (s >= 1e-3) {
            return String.format(Locale.ROOT, "%.3f ms", s * 1e3);
        }
        return String.format(Locale.ROOT, "%.2f us", s * 1e6);
    }
}
