package io.resflow.mpi;

import java.util.Map;

/**
 * Whether an MPI launcher started this process, read from the environment only (nothing is loaded): Open MPI's
 * {@code mpirun} sets {@code OMPI_COMM_WORLD_SIZE} and {@code OMPI_COMM_WORLD_RANK}; PMIx launchers (Slurm's
 * {@code srun --mpi=pmix}) set {@code PMIX_RANK}; PMI/PMI-2 launchers (MPICH's Hydra, {@code srun --mpi=pmi2}) set
 * {@code PMI_RANK} and {@code PMI_SIZE}.
 *
 * @param size the number of processes when the environment says (-1 when only the library can tell)
 * @param rank this process's rank when the environment says (-1 when only the library can tell)
 * @param variable the variable that showed the launcher, for messages
 */
public record Launch(int size, int rank, String variable) {

    /** The launch described by {@code env}, or null when no MPI launcher started the process. */
    public static Launch detect(Map<String, String> env) {
        if (env.containsKey("OMPI_COMM_WORLD_SIZE")) {
            return new Launch(intOr(env.get("OMPI_COMM_WORLD_SIZE")), intOr(env.get("OMPI_COMM_WORLD_RANK")),
                    "OMPI_COMM_WORLD_SIZE");
        }
        if (env.containsKey("PMIX_RANK")) {
            return new Launch(intOr(env.get("SLURM_NTASKS")), intOr(env.get("PMIX_RANK")), "PMIX_RANK");
        }
        if (env.containsKey("PMI_RANK") || env.containsKey("PMI_SIZE")) {
            return new Launch(intOr(env.get("PMI_SIZE")), intOr(env.get("PMI_RANK")), "PMI_RANK");
        }
        return null;
    }

    private static int intOr(String s) {
        try {
            return s == null ? -1 : Integer.parseInt(s.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** For messages: {@code mpirun (OMPI_COMM_WORLD_SIZE=2)}. */
    public String describe() {
        return "an MPI launcher (" + variable + (size > 0 ? ", " + size + " processes" : "") + ")";
    }
}
