package io.resflow.tornado;

import io.resflow.model.ModelConfig;
import io.resflow.model.ParamLayout;
import io.resflow.model.ParamSpec;
import io.resflow.model.Params;
import io.resflow.model.Tensor;
import io.resflow.tornado.kernels.Bf16Kernels;
import io.resflow.tornado.kernels.Consts;
import io.resflow.tornado.kernels.MemoryKernels;
import java.util.List;
import java.util.Map;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

/**
 * The device-resident arrays of a session, sized by its {@link DeviceLayout}, and the host-side copies into and out of
 * them. Owns:
 * <ul>
 * <li>{@code p}, {@code g}, {@code mom}, {@code vel}: parameters, gradients and AdamW's moments (ParamLayout order);</li>
 * <li>{@code act}, {@code dact}: activations and backward scratch;</li>
 * <li>{@code consts}: the model's scalars (norm eps, skip weight, attention scale, 1/N) and the RoPE tables;</li>
 * <li>{@code partials}: the first pass of the two-pass gradient-norm reduction (sized for the most work-groups a
 * launch may have; the device's shapes use the first {@code reduceGroups});</li>
 * <li>{@code tok}: the device token array [inputs | targets | first occurrences];</li>
 * <li>{@code zero}: a 1-int array holding 0, the layer index of tensors that are not per layer, and the anchor every
 * graph declares ({@link GraphSpec}).</li>
 * <li>bf16 only ({@link DeviceLayout#bf16}, else null): {@code p16}, the bf16 bits of every parameter in p's order (a
 * {@code ShortArray}, 2 bytes per parameter, made on the device from p by one kernel before each forward: the
 * matmuls read their weights and biases from it), and {@code pow2}, the 256-entry table the kernels widen those
 * bits with ({@link Bf16Kernels}).</li>
 * </ul>
 * These are the plan's shared buffers: the {@link #ownerGraph owner graph} holds them on the device, every other graph
 * consumes them. Per-call inputs and outputs (tokens from the host, the loss, layer indices) belong to the graphs that
 * use them, not here.
 */
final class DeviceBuffers {
    final DeviceLayout d;
    final FloatArray p;
    final FloatArray g;
    final FloatArray mom;
    final FloatArray vel;
    final FloatArray act;
    final FloatArray dact;
    final FloatArray consts;
    final FloatArray partials;
    final IntArray tok;
    final IntArray zero;
    /** bf16: the 16-bit copy of p; null in fp32. */
    final ShortArray p16;
    /** bf16: the widening table ({@link Bf16Kernels#pow2Table()}); null in fp32. */
    final FloatArray pow2;

    /** Allocates every array (host and, on first use, device memory): check the layout's sizes first. */
    DeviceBuffers(ModelConfig c, DeviceLayout d) {
        this(c, d, true, d.T);
    }

    /**
     * The buffers of a decoder ({@link TornadoDecoder}): parameters, activations (a layout of one row) and constants
     * whose RoPE tables cover {@code positions} positions; no training state (g, mom, vel, dact and partials hold one
     * float each and no graph uses them).
     */
    static DeviceBuffers forDecoding(ModelConfig c, DeviceLayout d, int positions) {
        return new DeviceBuffers(c, d, false, positions);
    }

    private DeviceBuffers(ModelConfig c, DeviceLayout d, boolean training, int ropePositions) {
        this.d = d;
        p = new FloatArray(d.paramCount);
        g = new FloatArray(training ? d.paramCount : 1);
        mom = new FloatArray(training ? d.paramCount : 1);
        vel = new FloatArray(training ? d.paramCount : 1);
        act = new FloatArray(d.actSize);
        dact = new FloatArray(training ? d.dactSize : 1);
        partials = new FloatArray(training ? d.partialsSize : 1);
        tok = new IntArray(d.tokSize);
        zero = new IntArray(1);
        consts = buildConsts(c, d, ropePositions);
        p16 = d.bf16 ? new ShortArray(d.paramCount) : null;
        pow2 = d.bf16 ? FloatArray.fromArray(Bf16Kernels.pow2Table()) : null;
    }

    /** The skip-path weight alpha of h = norm(alpha h + F(h)): 0 without a skip path, (2N)^(1/4) for DeepNorm. */
    static float skipAlpha(ModelConfig c) {
        return c.residual().skipAlpha(c.nLayer());
    }

    /** Model scalars, then RoPE's cos (T, hd/2) and sin (T, hd/2) tables for positions 0 .. T-1. */
    private static FloatArray buildConsts(ModelConfig c, DeviceLayout d, int T) {
        int half = c.headDim() / 2;
        FloatArray k = new FloatArray(Consts.ROPE + Math.max(c.learnedPositions() ? 0 : 2 * T * half, 1));
        k.set(Consts.NORM_EPS, (float) c.normEps());
        k.set(Consts.SKIP_ALPHA, skipAlpha(c));
        k.set(Consts.ATTN_SCALE, (float) (1.0 / Math.sqrt(c.headDim())));
        k.set(Consts.INV_N, (float) (1.0 / d.N));
        if (!c.learnedPositions()) {
            for (int t = 0; t < T; t++) {
                for (int j = 0; j < half; j++) {
                    double angle = t * Math.pow(c.ropeTheta(), -2.0 * j / c.headDim());
                    k.set(Consts.ROPE + t * half + j, (float) Math.cos(angle));
                    k.set(Consts.ROPE + T * half + t * half + j, (float) Math.sin(angle));
                }
            }
        }
        return k;
    }

    /** Every shared buffer, in the order the owner graph declares them. */
    List<Object> shared() {
        if (p16 != null) {
            return List.of(p, g, mom, vel, act, dact, consts, partials, tok, zero, p16, pow2);
        }
        return List.of(p, g, mom, vel, act, dact, consts, partials, tok, zero);
    }

    /**
     * The graph that holds every shared buffer on the device (sent FIRST_EXECUTION, persisted); the plan runs it right
     * before each other graph's first execution, so that graph links its buffers to these.
     */
    GraphSpec ownerGraph(LaunchShapes shapes) {
        GraphSpec s = new GraphSpec("owner", zero)
                .task("t0", shapes.single(), MemoryKernels::touch, p, g, tok, zero)
                .task("t1", shapes.single(), MemoryKernels::touch, mom, vel, tok, zero)
                .task("t2", shapes.single(), MemoryKernels::touch, act, dact, tok, zero)
                .task("t3", shapes.single(), MemoryKernels::touch, consts, partials, tok, zero);
        if (p16 != null) {
            s.task("t4", shapes.single(), Bf16Kernels::touch, p16, pow2, zero);
        }
        return s;
    }

    /** The graph through which parameters, gradients, moments and activations are copied back on demand. */
    GraphSpec downloadGraph(LaunchShapes shapes) {
        return new GraphSpec("download", zero).onDemand(p, g, mom, vel, act)
                .task("t0", shapes.single(), MemoryKernels::touch, p, g, tok, zero)
                .task("t1", shapes.single(), MemoryKernels::touch, mom, vel, tok, zero)
                .task("t2", shapes.single(), MemoryKernels::touch, act, dact, tok, zero);
    }

    /** Writes every tensor of {@code src} into the host side of {@code dst} (one of p, mom, vel) at its offset. */
    void upload(Params src, FloatArray dst) {
        for (var e : d.paramOffset.entrySet()) {
            float[] data = src.data(e.getKey());
            int off = e.getValue();
            for (int i = 0; i < data.length; i++) {
                dst.set(off + i, data[i]);
            }
        }
    }

    /** The host side of {@code src} (one of p, g, mom, vel, already copied back) as named tensors. */
    Params toParams(ModelConfig c, FloatArray src) {
        Params out = new Params();
        Map<String, Integer> offsets = d.paramOffset;
        for (ParamSpec s : ParamLayout.of(c).specs()) {
            Tensor t = Tensor.zeros(s.name(), s.shape());
            float[] data = t.data();
            int off = offsets.get(s.name());
            for (int i = 0; i < data.length; i++) {
                data[i] = src.get(off + i);
            }
            out.put(t);
        }
        return out;
    }

    static float[] copy(FloatArray a, int off, int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = a.get(off + i);
        }
        return out;
    }
}
