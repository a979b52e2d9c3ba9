/**
 * The Open MPI binding through the FFM API ({@link io.resflow.mpi.Mpi}) and the launch environment it reads; no
 * training logic.
 * May import: io.resflow.model.
 */
package io.resflow.mpi;
