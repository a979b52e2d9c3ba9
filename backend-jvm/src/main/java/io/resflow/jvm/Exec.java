package io.resflow.jvm;

/**
 * What every jvm op needs to run its kernels: the shared {@link WorkerPool} of its thread count, and the two task
 * layouts the ops use. Row-parallel kernels split rows into {@link #rowTasks} tasks; element-wise kernels and scalar
 * reductions use fixed {@link #CHUNK}-element tasks, and column-partitioned reductions {@link #cols} columns per task.
 * Both are fixed by the shape alone (never by the thread count) where a reduction depends on them, so results are
 * bit-identical for every thread count.
 */
final class Exec {
    /** Elements per task of element-wise kernels, and per partial sum of the reductions (fixed: determinism). */
    static final int CHUNK = 16384;

    final WorkerPool pool;
    final int threads;
    private double[] partials = new double[16];

    Exec(int threads) {
        this.threads = threads;
        this.pool = WorkerPool.shared(threads);
    }

    void run(WorkerPool.Job job, int tasks) {
        pool.run(job, tasks);
    }

    /** Tasks for a row-parallel kernel: enough to balance the threads, at least ~32K elements each. */
    int rowTasks(int rows, long workPerRow) {
        long total = rows * Math.max(1, workPerRow);
        int byWork = (int) Math.max(1, Math.min(4L * threads, total / 32768));
        return Math.max(1, Math.min(rows, byWork));
    }

    /** Columns per task of the column-partitioned reductions (a few vectors wide). */
    static int cols() {
        return 4 * JvmOps.L;
    }

    static int chunks(int n) {
        return (n + CHUNK - 1) / CHUNK;
    }

    /**
     * A buffer for one partial sum per chunk task. Ops run one at a time on an Exec (one session, one calling
     * thread), so one buffer serves every reduction.
     */
    double[] partials(int tasks) {
        if (partials.length < tasks) {
            partials = new double[Math.max(tasks, 2 * partials.length)];
        }
        return partials;
    }

    /** The partial sums of the last reduction, added in task order. */
    double sumPartials(int tasks) {
        double s = 0;
        for (int i = 0; i < tasks; i++) {
            s += partials[i];
        }
        return s;
    }
}
