package io.resflow.mpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The FFM binding against the installed Open MPI, launched by mpirun; library detection without a launcher. */
class MpiBindingTest {

    @Test
    void everyCallOnTwoRanks(@TempDir Path tmp) throws Exception {
        var r = MpiRun.run(MpiRun.command(2, List.of(), MpiProbe.class.getName()), Map.of(), tmp.resolve("log"), 2);
        assertEquals(0, r.code(), r.output());
        for (int rank = 0; rank < 2; rank++) {
            // floats: sum of (r + 0.5 i) over r = 0, 1; double: 0.25 + 1.25; long max of {10 r, -r}; bcast from 0
            assertTrue(r.output().contains("probe rank " + rank + " size 2 floats 1.0,5.0 double 1.5 longmax 10,0 "
                    + "intmax 1 bcast 4242 npe 200 version Open MPI"), r.output());
        }
    }

    @Test
    void environmentWithoutLauncherIsNotALaunch() {
        assertNull(Launch.detect(Map.of("PATH", "/usr/bin", "HOME", "/root")));
        Launch l = Launch.detect(Map.of("OMPI_COMM_WORLD_SIZE", "4", "OMPI_COMM_WORLD_RANK", "3"));
        assertEquals(new Launch(4, 3, "OMPI_COMM_WORLD_SIZE"), l);
        assertEquals(new Launch(2, 1, "PMI_RANK"), Launch.detect(Map.of("PMI_SIZE", "2", "PMI_RANK", "1")));
        assertEquals(8, Launch.detect(Map.of("PMIX_RANK", "0", "SLURM_NTASKS", "8")).size());
    }

    /** A library that is not Open MPI (here the C library; MPICH below when installed) is refused by name, exit 2. */
    @Test
    void notOpenMpiIsRefused(@TempDir Path tmp) throws Exception {
        String msg = refused("/usr/lib/x86_64-linux-gnu/libc.so.6", tmp);
        assertTrue(msg.contains("is not Open MPI") && msg.contains("MPICH"), msg);
        Path mpich = Path.of("/usr/lib/x86_64-linux-gnu/libmpich.so.12");
        if (!Files.exists(mpich)) {
            System.out.println("SKIPPED (MPICH part): " + mpich + " not installed");
            return;
        }
        msg = refused(mpich.toString(), tmp);
        assertTrue(msg.contains("libmpich.so.12 is not Open MPI (MPICH Version:"), msg);
    }

    private static String refused(String lib, Path tmp) throws Exception {
        Path log = tmp.resolve("refused.log");
        // no launcher: the probe calls Mpi.init() anyway, with RESFLOW_MPI_LIB pointing elsewhere
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                MpiProbe.class.getName()).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("RESFLOW_MPI_LIB", lib);
        Process q = pb.start();
        assertTrue(q.waitFor(60, TimeUnit.SECONDS));
        String out = Files.readString(log);
        assertTrue(q.exitValue() != 0, out);
        return out;
    }
}
