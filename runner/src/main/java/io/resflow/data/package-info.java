/**
 * Training data: data specs, token files and their streams, synthetic data, per-rank shards and batches.
 * May import: io.resflow.model, io.resflow.out, io.resflow.safetensors, io.resflow.text.
 */
package io.resflow.data;
