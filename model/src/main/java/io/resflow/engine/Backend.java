package io.resflow.engine;

import io.resflow.model.ModelConfig;
import io.resflow.model.Params;

/** A place where a model runs: the reference, the JVM (Vector API), or a TornadoVM device. */
public interface Backend {

    /** The id as given on the command line, e.g. {@code reference}, {@code jvm}, {@code tornado:0:1}. */
    String id();

    /** One line for reports: threads, vector width, device name. */
    String description();

    /** Opens a session holding a copy of {@code init} (or its arrays, with {@link SessionOptions#adoptInit}). */
    Session open(ModelConfig config, Params init, int batch, int seqLen, SessionOptions options);

    /**
     * Opens a decoder (batch 1, KV cache of {@code capacity} positions, at most max_seq_len) holding the parameters
     * {@code params} (it may keep a reference to them: do not modify them while it is open).
     */
    Decoder openDecoder(ModelConfig config, Params params, int capacity);

    /** {@link #openDecoder(ModelConfig, Params, int)} in the given precision; a backend without bf16 refuses it. */
    default Decoder openDecoder(ModelConfig config, Params params, int capacity, Precision precision) {
        requirePrecision(precision);
        return openDecoder(config, params, capacity);
    }

    /** The precisions this backend runs. */
    default java.util.Set<Precision> precisions() {
        return java.util.EnumSet.of(Precision.FP32);
    }

    /** Bad input (exit 2) when this backend does not run {@code p}. */
    default void requirePrecision(Precision p) {
        if (!precisions().contains(p)) {
            throw new io.resflow.model.BadInputException("backend '" + id() + "' does not run dtype " + p
                    + " (it runs " + precisions() + ")");
        }
    }
}
