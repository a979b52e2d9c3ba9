/**
 * What resflow writes: output folders and their lock ({@link io.resflow.out.OutDir}), JSON writing and strict JSON
 * field reading ({@link io.resflow.out.JsonFields}), PNG charts.
 * May import: io.resflow.model, io.resflow.safetensors.
 */
package io.resflow.out;
