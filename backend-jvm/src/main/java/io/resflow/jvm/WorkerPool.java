package io.resflow.jvm;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of threads (the caller plus {@code threads - 1} daemon workers) that runs one {@link Job} at a time.
 * A job is split into {@code n} independent tasks; threads claim task indices from a shared counter. Which thread
 * runs a task never changes the result: every kernel writes each output element from exactly one task and does its
 * reductions in a fixed order, so results are bit-identical run to run (and across thread counts).
 *
 * <p>Workers spin briefly after a job (the next kernel usually follows within microseconds), then yield, then park;
 * the submitting thread helps with the tasks and then waits the same way, yielding so that a descheduled worker can
 * finish when the machine is oversubscribed. Submitting a job allocates nothing.
 */
public final class WorkerPool {

    /** One parallel kernel invocation: fields hold its arguments, {@link #task} runs task {@code i}. */
    public abstract static class Job {
        /** Runs task {@code i}; {@code s} is the calling thread's private scratch. */
        public abstract void task(int i, Scratch s);
    }

    private static final ConcurrentHashMap<Integer, WorkerPool> SHARED = new ConcurrentHashMap<>();
    /** Idle workers busy-spin this long after a job, then yield the core until YIELD_NANOS, then park. */
    private static final long SPIN_NANOS = 50_000;
    private static final long YIELD_NANOS = 1_000_000;

    /** A pool per thread count, shared by every JvmOps of that size (threads are daemons, never stopped). */
    public static WorkerPool shared(int threads) {
        return SHARED.computeIfAbsent(threads, WorkerPool::new);
    }

    private final int threads;
    private final Thread[] workers;
    private final Scratch[] scratch;
    /** (generation << 32) | next task index: a claim only succeeds for the job the claimer was started for. */
    private final AtomicLong ticket = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private volatile Job job;
    private volatile int count;
    private volatile int generation;
    private volatile Throwable failure;

    private WorkerPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.scratch = new Scratch[threads];
        for (int i = 0; i < threads; i++) {
            scratch[i] = new Scratch();
        }
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            int id = i + 1;
            Thread t = new Thread(() -> workerLoop(id), "resflow-jvm-" + threads + "-" + id);
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    public int threads() {
        return threads;
    }

    /** Runs tasks 0..n-1 of {@code j} on all threads and returns when every one has finished. */
    public synchronized void run(Job j, int n) {
        if (n <= 0) {
            return;
        }
        if (threads == 1 || n == 1) {
            Scratch s = scratch[0];
            for (int i = 0; i < n; i++) {
                j.task(i, s);
            }
            return;
        }
        failure = null;
        done.set(0);
        int gen = generation + 1;
        ticket.set((long) gen << 32);
        count = n;
        job = j;
        generation = gen; // volatile write publishes the fields above
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
        work(j, n, gen, scratch[0]);
        // the last tasks may sit on a thread the OS has descheduled: spin briefly, then give the core away
        int spins = 0;
        while (done.get() < n) {
            if (++spins < 2000) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
        job = null;
        Throwable f = failure;
        if (f != null) {
            failure = null;
            if (f instanceof RuntimeException re) {
                throw re;
            }
            if (f instanceof Error e) {
                throw e;
            }
            throw new RuntimeException(f);
        }
    }

    private void work(Job j, int n, int gen, Scratch s) {
        while (true) {
            long t = ticket.get();
            int i = (int) t;
            if ((int) (t >>> 32) != gen || i >= n) {
                return;
            }
            if (!ticket.compareAndSet(t, t + 1)) {
                continue;
            }
            try {
                if (failure == null) {
                    j.task(i, s);
                }
            } catch (Throwable e) {
                failure = e;
            } finally {
                done.incrementAndGet();
            }
        }
    }

    private void workerLoop(int id) {
        Scratch s = scratch[id];
        int seen = 0;
        while (true) {
            long spinStart = System.nanoTime();
            int spins = 0;
            while (generation == seen) {
                long idle = ++spins < 64 ? 0 : System.nanoTime() - spinStart;
                if (idle < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else if (idle < YIELD_NANOS) {
                    Thread.yield();
                } else {
                    LockSupport.park(this);
                }
            }
            seen = generation;
            Job j = job;
            int n = count;
            if (j != null) {
                work(j, n, seen, s);
            }
        }
    }
}
