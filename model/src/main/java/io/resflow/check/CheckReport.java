package io.resflow.check;

import java.util.List;

/** The rows of a check (tensor, rel_l2, max_rel, budget, OK/FAIL) and its verdict. */
public record CheckReport(String title, List<Comparison.Row> rows) {

    public boolean passed() {
        return !rows.isEmpty() && rows.stream().allMatch(Comparison.Row::ok);
    }

    public long failures() {
        return rows.stream().filter(r -> !r.ok()).count();
    }

    public String table() {
        int w = Math.max(6, rows.stream().mapToInt(r -> r.tensor().length()).max().orElse(6));
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%-" + w + "s  %10s  %10s  %-4s  %s%n", "tensor", "rel_l2", "max_rel", "", "budget"));
        for (Comparison.Row r : rows) {
            sb.append(String.format("%-" + w + "s  %10.3e  %10.3e  %-4s  %s%n", r.tensor(), r.relL2(), r.maxRel(),
                    r.ok() ? "OK" : "FAIL", r.budget()));
        }
        return sb.toString();
    }

    public String summary() {
        return String.format("%s: %s, %d of %d tensors passed", title, passed() ? "PASS" : "FAIL",
                rows.size() - failures(), rows.size());
    }
}
