package io.resflow.mpi;

import io.resflow.model.BadInputException;
import io.resflow.model.RuntimeFailure;
import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The few MPI calls data-parallel training needs, bound to Open MPI's {@code libmpi.so} at run time through the FFM
 * API (no JNI, no jar). Open MPI's handles ({@code MPI_COMM_WORLD}, {@code MPI_FLOAT}, {@code MPI_SUM}, ...) are the
 * addresses of exported globals ({@code ompi_mpi_comm_world}, {@code ompi_mpi_float}, {@code ompi_mpi_op_sum});
 * MPICH and its derivatives use integer handles instead, and are refused with a message saying so.
 *
 * <p>Nothing here is loaded unless {@link #init} is called, which the runner does only when an MPI launcher started
 * the process ({@link Launch}). Errors are returned, not fatal ({@code MPI_ERRORS_RETURN} on the world
 * communicator), and become {@link RuntimeFailure}s (exit 3) naming the call.
 *
 * <p>Threads: the library is initialised with {@code MPI_Init_thread(MPI_THREAD_MULTIPLE)}: the training thread
 * makes the collectives, and the peer watch's heartbeat thread sends and receives on a communicator of its own
 * ({@link #dupWorld}). When the library grants less ({@link #threadMultiple()} false), only the training thread
 * calls MPI and the heartbeat is off.
 */
public final class Mpi implements AutoCloseable {
    /** Library names tried in order; {@code RESFLOW_MPI_LIB} (a path or a name) comes first when set. */
    static final List<String> LIBRARIES = List.of("libmpi.so.40", "libmpi.so");

    private static final Linker LINKER = Linker.nativeLinker();
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final AddressLayout ADDR = ValueLayout.ADDRESS;
    /** Open MPI's MPI_IN_PLACE is {@code (void *) 1}. */
    private static final MemorySegment IN_PLACE = MemorySegment.ofAddress(1);
    /** MPI_THREAD_MULTIPLE in Open MPI's mpi.h (SINGLE 0, FUNNELED 1, SERIALIZED 2, MULTIPLE 3). */
    private static final int THREAD_MULTIPLE = 3;
    /** Open MPI's MPI_STATUS_IGNORE is a null pointer. */
    private static final MemorySegment STATUS_IGNORE = MemorySegment.NULL;
    /** Elements per MPI call: counts are C ints. */
    public static final int MAX_COUNT = 1 << 28;

    private final Arena arena = Arena.ofShared();
    private final SymbolLookup lib;
    private final String libraryName;
    private final MemorySegment world;
    private final MemorySegment tFloat;
    private final MemorySegment tDouble;
    private final MemorySegment tLong;
    private final MemorySegment tInt;
    private final MemorySegment opSum;
    private final MemorySegment opMax;
    private final MethodHandle allreduce;
    private final MethodHandle iallreduce;
    private final MethodHandle isend;
    private final MethodHandle irecv;
    private final MethodHandle test;
    private final MethodHandle waitOne;
    private final MethodHandle cancel;
    private final MethodHandle commDup;
    private final boolean threadMultiple;
    private final MethodHandle bcast;
    private final MethodHandle barrier;
    private final MethodHandle abort;
    private final MethodHandle finalize;
    private final MethodHandle errorString;
    private final String version;
    private final int rank;
    private final int size;
    private final MemorySegment intOut;
    private boolean finalized;

    /**
     * Open MPI's non-blocking all-reduce (libnbc) picks, for fewer than 4 processes or an in-place buffer, the
     * binomial algorithm: rank 0 receives everything, adds it all and sends it back, while the others wait. The
     * gradient buckets ask for reduce-scatter + allgather (Rabenseifner) instead, where every rank adds its share
     * (measured with scripts/dp-bench.sh, GPT-2 small at N = 2: all-reduce time on the training thread 578 -> 342 ms
     * per step). Set before MPI_Init, and only when the user has not set it.
     */
    static final String IALLREDUCE_ALGORITHM = "OMPI_MCA_coll_libnbc_iallreduce_algorithm";

    private static void setDefaultEnv(String name, String value) {
        try (Arena a = Arena.ofConfined()) {
            MethodHandle setenv = LINKER.downcallHandle(LINKER.defaultLookup().find("setenv").orElseThrow(),
                    FunctionDescriptor.of(INT, ADDR, ADDR, INT));
            invokeInt(setenv, a.allocateFrom(name), a.allocateFrom(value), 0);
        }
    }

    private Mpi(SymbolLookup lib, String libraryName) {
        setDefaultEnv(IALLREDUCE_ALGORITHM, "3");
        this.lib = lib;
        this.libraryName = libraryName;
        this.version = libraryVersion();
        if (lib.find("ompi_mpi_comm_world").isEmpty()) {
            throw new BadInputException("MPI library " + libraryName + " is not Open MPI (" + firstLine(version)
                    + "): resflow binds Open MPI, whose handles are addresses of exported globals; MPICH-style "
                    + "libraries (MPICH, Intel MPI, MVAPICH, Cray MPICH) use integer handles and are not supported. "
                    + "Point RESFLOW_MPI_LIB at Open MPI's libmpi.so and launch with Open MPI's mpirun");
        }
        this.world = global("ompi_mpi_comm_world");
        this.tFloat = global("ompi_mpi_float");
        this.tDouble = global("ompi_mpi_double");
        this.tLong = global("ompi_mpi_long");
        this.tInt = global("ompi_mpi_int");
        this.opSum = global("ompi_mpi_op_sum");
        this.opMax = global("ompi_mpi_op_max");
        this.allreduce = fn("MPI_Allreduce", INT, ADDR, ADDR, INT, ADDR, ADDR, ADDR);
        this.iallreduce = fn("MPI_Iallreduce", INT, ADDR, ADDR, INT, ADDR, ADDR, ADDR, ADDR);
        this.isend = fn("MPI_Isend", INT, ADDR, INT, ADDR, INT, INT, ADDR, ADDR);
        this.irecv = fn("MPI_Irecv", INT, ADDR, INT, ADDR, INT, INT, ADDR, ADDR);
        this.test = fn("MPI_Test", INT, ADDR, ADDR, ADDR);
        this.waitOne = fn("MPI_Wait", INT, ADDR, ADDR);
        this.cancel = fn("MPI_Cancel", INT, ADDR);
        this.commDup = fn("MPI_Comm_dup", INT, ADDR, ADDR);
        this.bcast = fn("MPI_Bcast", INT, ADDR, INT, ADDR, INT, ADDR);
        this.barrier = fn("MPI_Barrier", INT, ADDR);
        this.abort = fn("MPI_Abort", INT, ADDR, INT);
        this.finalize = fn("MPI_Finalize", INT);
        this.errorString = fn("MPI_Error_string", INT, INT, ADDR, ADDR);
        this.intOut = arena.allocate(INT);
        MethodHandle init = fn("MPI_Init_thread", INT, ADDR, ADDR, INT, ADDR);
        check("MPI_Init_thread", invokeInt(init, MemorySegment.NULL, MemorySegment.NULL, THREAD_MULTIPLE, intOut));
        this.threadMultiple = intOut.get(INT, 0) >= THREAD_MULTIPLE;
        returnErrors(world);
        check("MPI_Comm_rank", invokeInt(fn("MPI_Comm_rank", INT, ADDR, ADDR), world, intOut));
        this.rank = intOut.get(INT, 0);
        check("MPI_Comm_size", invokeInt(fn("MPI_Comm_size", INT, ADDR, ADDR), world, intOut));
        this.size = intOut.get(INT, 0);
    }

    /**
     * Loads Open MPI and calls {@code MPI_Init}. Exit 2 (bad input) when no MPI library is found or it is not Open
     * MPI; exit 3 when initialisation fails.
     */
    public static Mpi init() {
        List<String> tried = new ArrayList<>();
        String env = System.getenv("RESFLOW_MPI_LIB");
        List<String> names = new ArrayList<>();
        if (env != null && !env.isBlank()) {
            names.add(env);
        }
        names.addAll(LIBRARIES);
        for (String name : names) {
            Optional<SymbolLookup> l = open(name);
            if (l.isPresent()) {
                return new Mpi(l.get(), name);
            }
            tried.add(name);
        }
        throw new BadInputException("launched by an MPI launcher, but no MPI library could be loaded (tried "
                + String.join(", ", tried) + "): install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) "
                + "or set RESFLOW_MPI_LIB to its libmpi.so");
    }

    private static Optional<SymbolLookup> open(String name) {
        try {
            if (name.contains("/")) {
                Path p = Path.of(name);
                if (!Files.isRegularFile(p)) {
                    return Optional.empty();
                }
                return Optional.of(SymbolLookup.libraryLookup(p, Arena.global()));
            }
            return Optional.of(SymbolLookup.libraryLookup(name, Arena.global()));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** MPI_Get_library_version, before MPI_Init (the MPI standard allows it). */
    private String libraryVersion() {
        Optional<MemorySegment> f = lib.find("MPI_Get_library_version");
        if (f.isEmpty()) {
            return "no MPI_Get_library_version";
        }
        MethodHandle h = LINKER.downcallHandle(f.get(), FunctionDescriptor.of(INT, ADDR, ADDR));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(8192); // MPI_MAX_LIBRARY_VERSION_STRING: 256 in Open MPI, 8192 in MPICH
            MemorySegment len = a.allocate(INT);
            invokeInt(h, buf, len);
            return buf.getString(0).strip();
        }
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }

    private MemorySegment global(String symbol) {
        return lib.find(symbol).orElseThrow(() -> new BadInputException("MPI library " + libraryName
                + " has no symbol " + symbol + " (" + firstLine(version) + "): not an Open MPI resflow can use"));
    }

    private MethodHandle fn(String name, ValueLayout ret, ValueLayout... args) {
        return LINKER.downcallHandle(global(name), FunctionDescriptor.of(ret, args));
    }

    private static int invokeInt(MethodHandle h, Object... args) {
        try {
            return (int) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private void check(String call, int rc) {
        if (rc != 0) {
            throw new RuntimeFailure("rank " + rank + ": " + call + " failed: " + errorText(rc)
                    + " (a process of the job may have ended)");
        }
    }

    private String errorText(int rc) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(1024);
            MemorySegment len = a.allocate(INT);
            if (invokeInt(errorString, rc, buf, len) == 0) {
                return buf.getString(0) + " (MPI error " + rc + ")";
            }
        } catch (RuntimeException e) {
            // fall through to the number
        }
        return "MPI error " + rc;
    }

    public int rank() {
        return rank;
    }

    public int size() {
        return size;
    }

    /** The first line of MPI_Get_library_version, e.g. {@code Open MPI v4.1.4, package: Debian OpenMPI, ...}. */
    public String version() {
        return firstLine(version);
    }

    /** In-place sum over all ranks of {@code count} floats at the start of {@code buf} (native memory). */
    public void allreduceSumFloats(MemorySegment buf, long count) {
        for (long off = 0; off < count; off += MAX_COUNT) {
            int n = (int) Math.min(MAX_COUNT, count - off);
            check("MPI_Allreduce (float sum)", invokeInt(allreduce, IN_PLACE, buf.asSlice(off * 4, n * 4L), n, tFloat,
                    opSum, world));
        }
    }

    /** Errors on {@code comm} are returned to the caller (MPI_ERRORS_RETURN), not fatal. */
    private void returnErrors(MemorySegment comm) {
        check("MPI_Comm_set_errhandler", invokeInt(fn("MPI_Comm_set_errhandler", INT, ADDR, ADDR), comm,
                global("ompi_mpi_errors_return")));
    }

    /** Whether the library allows calls from several threads at once (MPI_THREAD_MULTIPLE was granted). */
    public boolean threadMultiple() {
        return threadMultiple;
    }

    /**
     * A request handle's storage (an {@code MPI_Request}, a pointer in Open MPI), for the non-blocking calls; lives as
     * long as this object.
     */
    public MemorySegment newRequest() {
        synchronized (arena) {
            return arena.allocate(ADDR);
        }
    }

    /**
     * Starts an in-place sum over all ranks of {@code count} floats at the start of {@code buf} (native memory, at
     * most {@link #MAX_COUNT}) with MPI_Iallreduce; {@code buf} must not be touched until {@link #test} or
     * {@link #await} says the request completed. Non-blocking collectives start in the same order on every rank.
     */
    public void iallreduceSumFloats(MemorySegment buf, int count, MemorySegment request) {
        check("MPI_Iallreduce (float sum)", invokeInt(iallreduce, IN_PLACE, buf, count, tFloat, opSum, world,
                request));
    }

    /**
     * MPI_Test: whether the request completed (then it is freed); also drives the library's progress. For the
     * training thread (it reuses one flag; the heartbeat thread has {@link #testQuiet}).
     */
    public boolean test(MemorySegment request, String what) {
        check("MPI_Test (" + what + ")", invokeInt(test, request, intOut, STATUS_IGNORE));
        return intOut.get(INT, 0) != 0;
    }

    /** MPI_Wait: blocks until the request completed. */
    public void await(MemorySegment request, String what) {
        check("MPI_Wait (" + what + ")", invokeInt(waitOne, request, STATUS_IGNORE));
    }

    /** A communicator of the same processes as the world, whose messages never meet the world's (MPI_Comm_dup). */
    public MemorySegment dupWorld() {
        MemorySegment out = newRequest(); // an MPI_Comm is a pointer too, as an MPI_Request
        check("MPI_Comm_dup", invokeInt(commDup, world, out));
        MemorySegment comm = out.get(ADDR, 0);
        returnErrors(comm);
        return comm;
    }

    /** MPI_Isend of {@code count} ints at {@code buf} to rank {@code dest} on {@code comm}. */
    public int isendInts(MemorySegment buf, int count, int dest, int tag, MemorySegment comm, MemorySegment request) {
        return invokeInt(isend, buf, count, tInt, dest, tag, comm, request);
    }

    /** MPI_Irecv of {@code count} ints from rank {@code source} on {@code comm}. */
    public int irecvInts(MemorySegment buf, int count, int source, int tag, MemorySegment comm,
            MemorySegment request) {
        return invokeInt(irecv, buf, count, tInt, source, tag, comm, request);
    }

    /** MPI_Test returning the MPI error code instead of throwing (for the heartbeat thread); flag in {@code out}. */
    public int testQuiet(MemorySegment request, MemorySegment flagOut) {
        return invokeInt(test, request, flagOut, STATUS_IGNORE);
    }

    /** MPI_Cancel of a pending receive (it must still be completed or freed). */
    public int cancelQuiet(MemorySegment request) {
        return invokeInt(cancel, request);
    }

    /** In-place sum over all ranks of doubles. */
    public void allreduceSum(double[] values) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocateFrom(ValueLayout.JAVA_DOUBLE, values);
            check("MPI_Allreduce (double sum)", invokeInt(allreduce, IN_PLACE, s, values.length, tDouble, opSum, world));
            MemorySegment.copy(s, ValueLayout.JAVA_DOUBLE, 0, values, 0, values.length);
        }
    }

    /** In-place maximum over all ranks of longs (C long: 64 bits on the platforms Open MPI and Java share here). */
    public void allreduceMax(long[] values) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocateFrom(ValueLayout.JAVA_LONG, values);
            check("MPI_Allreduce (long max)", invokeInt(allreduce, IN_PLACE, s, values.length, tLong, opMax, world));
            MemorySegment.copy(s, ValueLayout.JAVA_LONG, 0, values, 0, values.length);
        }
    }

    /** In-place maximum over all ranks of ints. */
    public void allreduceMax(int[] values) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocateFrom(ValueLayout.JAVA_INT, values);
            check("MPI_Allreduce (int max)", invokeInt(allreduce, IN_PLACE, s, values.length, tInt, opMax, world));
            MemorySegment.copy(s, ValueLayout.JAVA_INT, 0, values, 0, values.length);
        }
    }

    /** Broadcast of longs from {@code root} to every rank. */
    public void bcast(long[] values, int root) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocateFrom(ValueLayout.JAVA_LONG, values);
            check("MPI_Bcast", invokeInt(bcast, s, values.length, tLong, root, world));
            MemorySegment.copy(s, ValueLayout.JAVA_LONG, 0, values, 0, values.length);
        }
    }

    public void barrier() {
        check("MPI_Barrier", invokeInt(barrier, world));
    }

    /** MPI_Abort on the world communicator: the launcher stops every process; mpirun exits with {@code code}. */
    public void abort(int code) {
        invokeInt(abort, world, code);
    }

    /** MPI_Finalize (once). */
    @Override
    public void close() {
        if (!finalized) {
            finalized = true;
            check("MPI_Finalize", invokeInt(finalize));
        }
    }
}
