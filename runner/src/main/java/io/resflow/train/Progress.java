package io.resflow.train;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.time.Duration;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Shows how a run advances: a progress bar (step, loss, tokens/s, ETA) on a terminal, plain lines otherwise (a pipe,
 * a log file, tests).
 */
public interface Progress extends AutoCloseable {

    /** One finished step. */
    void update(Trainer.Step s);

    /** A checkpoint was written after {@code step}. */
    void checkpoint(int step, java.nio.file.Path file);

    /** A line to show once (on a bar: after it, when the bar closes). */
    void note(String line);

    @Override
    void close();

    /** A bar when {@code out} is the process's standard output and that is a terminal, else plain lines. */
    static Progress create(PrintWriter out, boolean toStdout, String task, int from, int total) {
        var console = System.console();
        if (toStdout && console != null && console.isTerminal()) {
            return new Bar(System.out, out, task, from, total);
        }
        return new Lines(out, total);
    }

    /** Formats seconds as h:mm:ss. */
    static String hms(double seconds) {
        long s = Math.max(0, Math.round(seconds));
        return String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }

    /** A line per step when there are few, else about a hundred lines, plus the first and last step. */
    final class Lines implements Progress {
        private final PrintWriter out;
        private final int total;
        private final int every;

        Lines(PrintWriter out, int total) {
            this.out = out;
            this.total = total;
            this.every = Math.max(1, total / 100);
        }

        @Override
        public void update(Trainer.Step s) {
            if (s.step() % every == 0 || s.step() == total || s.index() == 1) {
                out.printf("step %d/%d  loss %.6f  grad_norm %.4f  lr %.3e  %.1f ms  %,.0f tok/s  ETA %s%n", s.step(),
                        total, s.loss(), s.gradNorm(), s.lr(), s.ms(), s.tokensPerSecond(), hms(s.etaSeconds()));
                out.flush();
            }
        }

        @Override
        public void checkpoint(int step, java.nio.file.Path file) {
            out.println("checkpoint step " + step + ": " + file);
            out.flush();
        }

        @Override
        public void note(String line) {
            out.println(line);
            out.flush();
        }

        @Override
        public void close() {
            out.flush();
        }
    }

    /** me.tongfei progressbar: {@code train 40% [=====     ] 20/50 (0:00:04 / 0:00:06) loss 4.12 | 52k tok/s}. */
    final class Bar implements Progress {
        private final ProgressBar bar;
        private final PrintWriter out;

        Bar(PrintStream stream, PrintWriter out, String task, int from, int total) {
            this.out = out;
            out.flush();
            this.bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total)
                    .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK).setConsumer(new ConsoleProgressBarConsumer(stream))
                    .setUpdateIntervalMillis(200).startsFrom(from, Duration.ZERO).build();
        }

        private String extra = "";
        private final java.util.List<String> notes = new java.util.ArrayList<>();

        @Override
        public void update(Trainer.Step s) {
            bar.stepTo(s.step());
            extra = String.format("loss %.4f | %,.0f tok/s", s.loss(), s.tokensPerSecond());
            bar.setExtraMessage(extra);
        }

        @Override
        public void checkpoint(int step, java.nio.file.Path file) {
            // printing would break the bar; it shows the step of the last checkpoint until the next update
            bar.setExtraMessage(extra + " | saved step " + step);
        }

        @Override
        public void note(String line) {
            notes.add(line);
        }

        @Override
        public void close() {
            bar.close();
            notes.forEach(out::println);
            out.flush();
        }
    }
}
