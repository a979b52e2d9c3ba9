/**
 * {@code resflow validate}: every tensor of a forward and backward pass on one backend compared with the reference,
 * with the verdict per tensor.
 * May import: io.resflow.check, io.resflow.data, io.resflow.engine, io.resflow.model, io.resflow.train.
 */
package io.resflow.validate;
