package io.resflow.cli;

import io.resflow.engine.AdamW;
import io.resflow.engine.Backend;
import io.resflow.engine.BackendProvider;
import io.resflow.engine.Backends;
import io.resflow.engine.DeviceInfo;
import io.resflow.engine.OptimizerState;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import java.util.List;
import java.util.Map;

/**
 * Test-only backends (registered for the runner's tests through META-INF/services): the reference in disguise.
 * {@code fake:opaque} exposes no intermediates and reports device bytes (as an accelerator backend would: 4 bytes
 * per parameter for parameters and gradients, 8 for the optimizer state); {@code fake:perturb=NAME} adds 0.05 to every entry of parameter
 * NAME, so everything computed after it diverges from the reference; {@code fake:nangrad=NAME} puts a NaN into the
 * gradient of NAME after every backward pass.
 */
public final class FakeBackendProvider implements BackendProvider {
    @Override
    public String name() {
        return "fake";
    }

    @Override
    public int autoRank() {
        return 1000;
    }

    @Override
    public List<DeviceInfo> devices() {
        return List.of(new DeviceInfo("fake:opaque", "cpu", "fake opaque", "test only"));
    }

    @Override
    public Backend create(String args) {
        Backend ref = Backends.resolve("reference");
        if (args.equals("opaque")) {
            return new Fake("fake:opaque", ref, null, true, null);
        }
        if (args.startsWith("perturb=")) {
            return new Fake("fake:" + args, ref, args.substring(8), false, null);
        }
        if (args.startsWith("nangrad=")) {
            return new Fake("fake:" + args, ref, null, false, args.substring(8));
        }
        throw new BadInputException("fake backend: unknown device '" + args + "' (opaque, perturb=NAME)");
    }

    private record Fake(String id, Backend ref, String perturb, boolean opaque, String nanGrad) implements Backend {
        @Override
        public String description() {
            return "test backend over the reference";
        }

        @Override
        public Session open(ModelConfig config, Params init, int batch, int seqLen, SessionOptions options) {
            Params p = init;
            if (perturb != null) {
                p = init.copy();
                float[] d = p.data(perturb);
                for (int i = 0; i < d.length; i++) {
                    d[i] += 0.05f;
                }
            }
            Session s = ref.open(config, p, batch, seqLen, options);
            return opaque || nanGrad != null ? new Wrapped(s, opaque, nanGrad) : s;
        }

        @Override
        public io.resflow.engine.Decoder openDecoder(ModelConfig config, Params params, int capacity) {
            return ref.openDecoder(config, params, capacity);
        }
    }

    private record Wrapped(Session s, boolean opaque, String nanGrad) implements Session {
        public ModelConfig config() {
            return s.config();
        }

        public int batch() {
            return s.batch();
        }

        public int seqLen() {
            return s.seqLen();
        }

        public double forward(int[] inputs, int[] targets) {
            return s.forward(inputs, targets);
        }

        public void backward() {
            s.backward();
            if (nanGrad != null) {
                s.grads().data(nanGrad)[0] = Float.NaN;
            }
        }

        public double gradNorm() {
            return s.gradNorm();
        }

        public void step(AdamW opt, double lr, double gradScale) {
            s.step(opt, lr, gradScale);
        }

        public float[] logits() {
            return s.logits();
        }

        public Params params() {
            return s.params();
        }

        public Params grads() {
            return s.grads();
        }

        public OptimizerState optimizerState() {
            return s.optimizerState();
        }

        public void restore(Params params, OptimizerState state) {
            s.restore(params, state);
        }

        public Map<String, float[]> activations() {
            return opaque ? Map.of() : s.activations();
        }

        public long activationBytes() {
            return s.activationBytes();
        }

        public Map<String, Long> deviceBytes() {
            if (!opaque) {
                return Map.of();
            }
            long p = 4L * s.config().parameterCount();
            Map<String, Long> out = new java.util.LinkedHashMap<>();
            out.put("parameters", p);
            out.put("gradients", p);
            out.put("optimizer state", 2 * p);
            out.put("activations", s.activationBytes());
            return out;
        }

        public void close() {
            s.close();
        }
    }
}
