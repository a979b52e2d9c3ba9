/**
 * Options shared by several commands as picocli mixins ({@code --debug}, {@code --out}/{@code --force}, the backend,
 * the model source) and the option converters they use.
 * May import: io.resflow.engine, io.resflow.model, io.resflow.out, io.resflow.train.
 */
package io.resflow.cli.options;
