/**
 * Training: the run config ({@link io.resflow.train.RunConfig}), where a model comes from
 * ({@link io.resflow.train.ModelSource}), the training step loop ({@link io.resflow.train.Trainer}), the LR
 * schedule, the metrics log, progress display and the checkpoint format ({@link io.resflow.train.Checkpoints}).
 * May import: io.resflow.data, io.resflow.engine, io.resflow.model, io.resflow.out, io.resflow.parallel,
 * io.resflow.safetensors, io.resflow.text.
 */
package io.resflow.train;
