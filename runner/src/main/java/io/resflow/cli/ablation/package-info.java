/**
 * {@code resflow ablation}: the same model trained with and without its residual skips (and other schemes) at
 * growing depth, its report and its charts.
 * May import: io.resflow.cli.options, io.resflow.data, io.resflow.engine, io.resflow.model, io.resflow.out,
 * io.resflow.safetensors, io.resflow.train.
 */
package io.resflow.cli.ablation;
