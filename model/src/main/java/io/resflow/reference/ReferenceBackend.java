package io.resflow.reference;

import io.resflow.engine.Backend;
import io.resflow.engine.BackendProvider;
import io.resflow.engine.Decoder;
import io.resflow.engine.DeviceInfo;
import io.resflow.engine.KvDecoder;
import io.resflow.engine.Precision;
import io.resflow.engine.Engine;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import java.util.List;

/** The oracle as a backend: {@link Engine} over {@link ReferenceOps}. */
public final class ReferenceBackend implements Backend {

    @Override
    public String id() {
        return "reference";
    }

    @Override
    public String description() {
        return new ReferenceOps().describe();
    }

    @Override
    public Session open(ModelConfig config, Params init, int batch, int seqLen, SessionOptions options) {
        requirePrecision(options.precision());
        return new Engine(config, init, batch, seqLen, options, new ReferenceOps(options.precision()));
    }

    @Override
    public java.util.Set<Precision> precisions() {
        return java.util.EnumSet.allOf(Precision.class);
    }

    @Override
    public Decoder openDecoder(ModelConfig config, Params params, int capacity, Precision precision) {
        ReferenceOps ops = new ReferenceOps(precision);
        return new KvDecoder(config, params, capacity, ops, "reference: " + ops.describe());
    }

    @Override
    public Decoder openDecoder(ModelConfig config, Params params, int capacity) {
        return new KvDecoder(config, params, capacity, new ReferenceOps(), "reference: " + new ReferenceOps().describe());
    }

    /** Registered with ServiceLoader. */
    public static final class Provider implements BackendProvider {
        @Override
        public String name() {
            return "reference";
        }

        @Override
        public Backend create(String args) {
            if (!args.isEmpty()) {
                throw new BadInputException("backend 'reference' takes no device, got 'reference:" + args + "'");
            }
            return new ReferenceBackend();
        }

        @Override
        public List<DeviceInfo> devices() {
            return List.of(new DeviceInfo("reference", "cpu", "pure Java oracle", new ReferenceOps().describe()));
        }

        @Override
        public int autoRank() {
            return 1000;
        }
    }
}
