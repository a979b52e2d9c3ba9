package io.resflow.mpi;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Run under mpirun by {@link MpiBindingTest}: every call of the binding once, printing one line of results per rank.
 * Also provokes JIT-compiled implicit null checks (the JVM's SIGSEGV handler) after MPI_Init, which Open MPI's own
 * signal handlers must not take over.
 */
public final class MpiProbe {
    public static void main(String[] args) {
        try (Mpi mpi = Mpi.init()) {
            int r = mpi.rank();
            int n = mpi.size();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment f = a.allocate(ValueLayout.JAVA_FLOAT, 5);
                for (int i = 0; i < 5; i++) {
                    f.setAtIndex(ValueLayout.JAVA_FLOAT, i, r + i * 0.5f);
                }
                mpi.allreduceSumFloats(f, 5);
                double[] d = {r + 0.25};
                mpi.allreduceSum(d);
                long[] mx = {r * 10L, -r};
                mpi.allreduceMax(mx);
                int[] mi = {r};
                mpi.allreduceMax(mi);
                long[] b = {r == 0 ? 4242 : -1};
                mpi.bcast(b, 0);
                mpi.barrier();
                int npes = 0;
                for (int i = 0; i < 200_000; i++) {
                    try {
                        npes += touch(i % 1000 == 0 ? null : "x");
                    } catch (NullPointerException e) {
                        npes++;
                    }
                }
                String line = String.format("probe rank %d size %d floats %s,%s double %s longmax %d,%d intmax %d "
                        + "bcast %d npe %d version %s%n", r, n, f.getAtIndex(ValueLayout.JAVA_FLOAT, 0),
                        f.getAtIndex(ValueLayout.JAVA_FLOAT, 4), d[0], mx[0], mx[1], mi[0], b[0], npes, mpi.version());
                // one write(2) of the whole line, so that the ranks' lines do not interleave in mpirun's output
                try {
                    var o = new java.io.FileOutputStream(java.io.FileDescriptor.out);
                    o.write(line.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    o.flush();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        }
    }

    private static int touch(String s) {
        return s.length() - 1;
    }
}
