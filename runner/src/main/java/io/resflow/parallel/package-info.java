/**
 * Data-parallel training over MPI ranks: gradient all-reduce, agreement on setup and failures
 * ({@link io.resflow.parallel.DataParallel}), and the watch that ends a rank whose peer died.
 * May import: io.resflow.engine, io.resflow.model, io.resflow.mpi.
 */
package io.resflow.parallel;
