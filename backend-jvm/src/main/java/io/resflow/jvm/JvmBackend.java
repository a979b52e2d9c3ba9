package io.resflow.jvm;

import io.resflow.engine.Backend;
import io.resflow.engine.Decoder;
import io.resflow.engine.Engine;
import io.resflow.engine.KvDecoder;
import io.resflow.engine.Precision;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;

/** The {@code jvm} backend: the shared {@link Engine} layer loop over {@link JvmOps} kernels. */
public final class JvmBackend implements Backend {
    private final int threads;

    public JvmBackend() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public JvmBackend(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
    }

    public int threads() {
        return threads;
    }

    @Override
    public String id() {
        return "jvm";
    }

    @Override
    public String description() {
        return "jvm: " + JvmOps.describe(threads);
    }

    @Override
    public Session open(ModelConfig config, Params init, int batch, int seqLen, SessionOptions options) {
        return new Engine(config, init, batch, seqLen, options, new JvmOps(threads, options.precision()));
    }

    @Override
    public Decoder openDecoder(ModelConfig config, Params params, int capacity) {
        return openDecoder(config, params, capacity, Precision.FP32);
    }

    @Override
    public Decoder openDecoder(ModelConfig config, Params params, int capacity, Precision precision) {
        JvmOps ops = new JvmOps(threads, precision);
        return new KvDecoder(config, params, capacity, ops, "jvm: " + ops.describe());
    }

    @Override
    public java.util.Set<Precision> precisions() {
        return java.util.EnumSet.allOf(Precision.class);
    }
}
