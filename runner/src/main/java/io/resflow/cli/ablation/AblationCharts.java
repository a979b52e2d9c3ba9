package io.resflow.cli.ablation;

import io.resflow.out.Png;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** PNG charts of an ablation (XChart). */
final class AblationCharts {
    private AblationCharts() {
    }

    static void losses(Path file, List<Ablation.SchemeResult> results, String title) {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle("step")
                .yAxisTitle("training loss").build();
        for (Ablation.SchemeResult r : results) {
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            for (int i = 0; i < r.losses().size(); i++) {
                x.add((double) i);
                y.add(r.losses().get(i));
            }
            x.add((double) r.losses().size());
            y.add(r.finalLoss());
            chart.addSeries(r.scheme(), x, y).setMarker(SeriesMarkers.NONE);
        }
        io.resflow.out.Png.write(file, chart);
    }

    /** One series per scheme: values[layer] against layer index, log-scale y (zeros are left out). */
    static void perLayer(Path file, List<Ablation.SchemeResult> results, boolean init, boolean residual, String title,
            String yTitle) {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle("layer index")
                .yAxisTitle(yTitle).build();
        chart.getStyler().setYAxisLogarithmic(true);
        for (Ablation.SchemeResult r : results) {
            double[] v = residual ? (init ? r.residInit() : r.residFinal()) : (init ? r.paramInit() : r.paramFinal());
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            for (int l = 0; l < v.length; l++) {
                if (v[l] > 0 && Double.isFinite(v[l])) {
                    x.add((double) l);
                    y.add(v[l]);
                }
            }
            if (!x.isEmpty()) {
                chart.addSeries(r.scheme() + (x.size() < v.length ? " (zeros omitted)" : ""), x, y)
                        .setMarker(SeriesMarkers.CIRCLE);
            }
        }
        io.resflow.out.Png.write(file, chart);
    }
}
