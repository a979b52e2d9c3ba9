/**
 * {@code resflow bench}: the bench config, the matrix of cells (one model x backend x mode x shape each, timed by
 * {@link io.resflow.bench.Bench}), statistics, FLOP and memory accounting, and the reports and charts.
 * May import: io.resflow.check, io.resflow.data, io.resflow.engine, io.resflow.model, io.resflow.out,
 * io.resflow.safetensors, io.resflow.train.
 */
package io.resflow.bench;
