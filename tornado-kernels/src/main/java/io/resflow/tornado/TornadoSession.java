package io.resflow.tornado;

import io.resflow.engine.AdamW;
import io.resflow.engine.OptimizerState;
import io.resflow.engine.Precision;
import io.resflow.engine.Session;
import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.model.ParamLayout;
import io.resflow.model.Params;
import io.resflow.model.Residual;
import io.resflow.model.RuntimeFailure;
import io.resflow.tornado.kernels.AdamWKernels;
import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import uk.ac.manchester.tornado.api.DataRange;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * A model living on one TornadoVM device, behind the {@link Session} API. It is three parts:
 * <ul>
 * <li>the device layout: {@link DeviceLayout} (where every tensor lives in the few large arrays, and their sizes)
 * and {@link DeviceBuffers} (those arrays, and the copies between them and host tensors);</li>
 * <li>the graph plan: {@link TrainingGraphs} (the task graphs of a step, their per-call inputs and outputs), built
 * from {@link DeviceOps} (which kernel implements each op), and run by {@link GraphPlan} (building, linking and
 * executing the graphs, with the device checks);</li>
 * <li>this class: the step's schedule (which graph runs when, with which layer index), token checks, and the copies
 * back ({@link #params()}, {@link #logits()}, {@link #activations()}, ...).</li>
 * </ul>
 * Parameters, gradients, AdamW moments and activations are sent once and stay on the device; per step only the
 * tokens, the layer indices and AdamW's eight hyper-parameters go in and the loss comes out
 * ({@link #lastStepBytes()}).
 *
 * <p>{@link #activations()} returns the same names as the reference engine (embed, h.i.ln1, h.i.attn_out,
 * h.i.resid_mid, h.i.ln2, h.i.mlp_out, h.i.resid_out, lnf, logits), copied from the device.
 *
 * <p>With recompute (as {@code Engine} does it) only each block's input h_k stays on the device: the forward pass
 * computes every block into one shared slab and stores its output in the stream; each block's backward graph first
 * loads the block's input back into the slab and runs the block again. The same kernels with the same arguments
 * (only the activation offsets differ) give bit-identical gradients and updates.
 *
 * <p>bf16 ({@link Precision#BF16}, as {@code torch.autocast}): the fp32 parameters, gradients and AdamW state stay as
 * they are; the embed graph first rounds every parameter into a 16-bit copy on the device ({@code ShortArray}, the
 * bf16 bits), which the matmul kernels read and widen, and the graphs round the tensors Engine rounds, in place, with
 * one rounding task each ({@link TrainingGraphs}, {@link BlockForward}). No tensor crosses the bus for it: per step
 * the same inputs go in and the loss comes out as in fp32, plus TornadoVM's 24 bytes of bookkeeping per extra task
 * (2-layer Llama: 3,792 bytes in instead of 2,808, 20 out).
 */
public final class TornadoSession implements Session {

    private final ModelConfig c;
    private final Precision precision;
    private final TornadoDevice device;
    private final boolean strict;
    private final DeviceLayout d;
    private final LaunchShapes shapes;
    private final DeviceBuffers buf;
    private final TrainingGraphs graphs;
    private final Map<String, Long> taskTime = new TreeMap<>();
    private GraphPlan plan;
    private int step;
    private boolean haveForward;
    private boolean haveTargets;
    private long[] lastStep = {0, 0};
    private final long[] exchangeBytes = {0, 0};
    private long exchangeNanos;

    TornadoSession(ModelConfig config, Params init, int batch, int seqLen, boolean recompute, TornadoDevice device,
            boolean strict) {
        this(config, init, batch, seqLen, recompute, device, strict, false);
    }

    TornadoSession(ModelConfig config, Params init, int batch, int seqLen, boolean recompute, TornadoDevice device,
            boolean strict, boolean gradientExchange) {
        this(config, init, batch, seqLen, recompute, device, strict, gradientExchange, Precision.FP32);
    }

    /**
     * @param gradientExchange prepare {@link #gradientsFrom} (an extra host array and graph of the gradients' size)
     * @param precision fp32, or bf16 (see the class comment)
     */
    TornadoSession(ModelConfig config, Params init, int batch, int seqLen, boolean recompute, TornadoDevice device,
            boolean strict, boolean gradientExchange, Precision precision) {
        if (seqLen > config.maxSeqLen()) {
            throw new BadInputException("seq_len " + seqLen + " is longer than the model's max_seq_len "
                    + config.maxSeqLen());
        }
        if (batch <= 0 || seqLen <= 0) {
            throw new BadInputException("batch and seq_len must be positive, got " + batch + " and " + seqLen);
        }
        init.checkAgainst(ParamLayout.of(config), "initial parameters");
        this.c = config;
        this.device = device;
        this.strict = strict;
        this.shapes = new LaunchShapes(device, device.getPhysicalDevice().getDeviceLocalMemorySize(),
                System.getProperty(LaunchShapes.SHAPES_PROPERTY, "auto"), config.headDim());
        this.precision = precision;
        this.d = new DeviceLayout(config, batch, seqLen, recompute, shapes.flashRows > 0,
                precision == Precision.BF16);
        // before anything is allocated: the device bytes the layout needs against what the device and TornadoVM allow
        DeviceLimits.of(device).requireFits(config, d);
        d.requireIntOffsets();
        this.buf = new DeviceBuffers(config, d);
        this.graphs = new TrainingGraphs(config, buf, new DeviceOps(config, buf, shapes), gradientExchange);
        buf.upload(init, buf.p);
        this.plan = newPlan();
    }

    private GraphPlan newPlan() {
        return new GraphPlan(device, strict, graphs.specs(), buf.shared(), d.bytes().total());
    }

    // ---------------------------------------------------------------- the step

    @Override
    public double forward(int[] inputs, int[] targets) {
        checkTokens(inputs, "input");
        haveTargets = targets != null;
        if (haveTargets) {
            checkTokens(targets, "target");
        }
        plan.resetBytes();
        for (int i = 0; i < d.N; i++) {
            graphs.tokIn.set(i, inputs[i]);
            graphs.tokIn.set(d.N + i, haveTargets ? targets[i] : 0);
        }
        plan.run("embed");
        for (int l = 0; l < d.L; l++) {
            graphs.layerA.set(0, l);
            plan.run("attn");
            graphs.layerM.set(0, l);
            plan.run("mlp");
        }
        haveForward = true;
        if (!haveTargets) {
            plan.run("head_infer");
            return Double.NaN;
        }
        plan.run("head");
        double loss = graphs.lossOut.get(0);
        if (!Double.isFinite(loss)) {
            throw new RuntimeFailure("loss is " + loss + " on device " + device.getDeviceName());
        }
        return loss;
    }

    private void checkTokens(int[] tokens, String what) {
        if (tokens.length != d.N) {
            throw new BadInputException(what + " tokens: expected B*T = " + d.N + " ids, got " + tokens.length);
        }
        for (int i = 0; i < d.N; i++) {
            if (tokens[i] < 0 || tokens[i] >= d.V) {
                throw new BadInputException(what + " token at position " + i + " is " + tokens[i]
                        + ", outside the vocabulary [0, " + d.V + ")");
            }
        }
    }

    @Override
    public void backward() {
        if (!haveForward || !haveTargets) {
            throw new IllegalStateException("backward() needs a forward() with targets first");
        }
        plan.run("head_bwd");
        for (int l = d.L - 1; l >= 0; l--) {
            graphs.layerMB.set(0, l);
            plan.run("mlp_bwd");
            graphs.layerAB.set(0, l);
            plan.run("attn_bwd");
        }
        plan.run("embed_bwd");
    }

    @Override
    public double gradNorm() {
        plan.run("grad_norm");
        return Math.sqrt(graphs.normOut.get(0));
    }

    @Override
    public void step(AdamW opt, double lr, double gradScale) {
        step++;
        FloatArray hyper = graphs.hyper;
        hyper.set(AdamWKernels.LR, (float) lr);
        hyper.set(AdamWKernels.B1, (float) opt.beta1());
        hyper.set(AdamWKernels.B2, (float) opt.beta2());
        hyper.set(AdamWKernels.EPS, (float) opt.eps());
        hyper.set(AdamWKernels.WD, (float) opt.weightDecay());
        hyper.set(AdamWKernels.SCALE, (float) gradScale);
        hyper.set(AdamWKernels.C1, (float) (1.0 - Math.pow((float) opt.beta1(), step)));
        hyper.set(AdamWKernels.C2, (float) (1.0 - Math.pow((float) opt.beta2(), step)));
        plan.run("adamw");
        lastStep = plan.bytes();
    }

    /**
     * Bytes copied host to device and device to host by the last training step (from the forward that began it through
     * its AdamW update), as TornadoVM's profiler counts them: {in, out}.
     */
    public long[] lastStepBytes() {
        return lastStep.clone();
    }

    /** Bytes copied {in, out} since the last forward began (e.g. by a forward-only call). */
    public long[] bytesSinceForward() {
        return plan.bytes();
    }

    /** fp32 or bf16. */
    public Precision precision() {
        return precision;
    }

    /** Device this session runs on. */
    public String deviceName() {
        return device.getDeviceName();
    }

    // ---------------------------------------------------------------- copies back

    private TornadoExecutionResult download() {
        return plan.runUncounted("download");
    }

    private Params fromDevice(FloatArray src) {
        download().transferToHost(src);
        return buf.toParams(c, src);
    }

    @Override
    public float[] logits() {
        if (!haveForward) {
            return new float[Math.multiplyExact(d.N, d.V)];
        }
        download().transferToHost(new DataRange(buf.act).withOffset(d.logits).withSize((long) d.N * d.V));
        return DeviceBuffers.copy(buf.act, d.logits, d.N * d.V);
    }

    @Override
    public Params params() {
        return fromDevice(buf.p);
    }

    @Override
    public Params grads() {
        return fromDevice(buf.g);
    }

    /**
     * Downloads the flat gradient array (device to host, {@code 4 * parameters} bytes) into {@code dst}: the
     * gradients leave the device for a data-parallel all-reduce.
     */
    @Override
    public void gradientsTo(MemorySegment dst) {
        long t = System.nanoTime();
        download().transferToHost(buf.g);
        MemorySegment.copy(buf.g.getSegment(), 0, dst, 0, 4L * d.paramCount);
        exchangeBytes[1] += 4L * d.paramCount;
        exchangeNanos += System.nanoTime() - t;
    }

    /**
     * Sends {@code src} to the device as the gradients (host to device, {@code 4 * parameters} bytes, then one copy
     * kernel into the flat array); the next gradNorm and AdamW step use them. Needs a session opened with gradient
     * exchange ({@link io.resflow.engine.SessionOptions#gradientExchange()}).
     */
    @Override
    public void gradientsFrom(MemorySegment src) {
        if (graphs.gradIn == null) {
            throw new IllegalStateException("gradientsFrom needs a session opened with gradient exchange");
        }
        long t = System.nanoTime();
        MemorySegment.copy(src, 0, graphs.gradIn.getSegment(), 0, 4L * d.paramCount);
        plan.runUncounted("grad_upload");
        exchangeBytes[0] += 4L * d.paramCount;
        exchangeNanos += System.nanoTime() - t;
    }

    /** Bytes {host to device, device to host} the gradient exchange moved, and its time in ns, since the start. */
    public long[] gradientExchange() {
        return new long[] {exchangeBytes[0], exchangeBytes[1], exchangeNanos};
    }

    @Override
    public OptimizerState optimizerState() {
        return new OptimizerState(fromDevice(buf.mom), fromDevice(buf.vel), step);
    }

    @Override
    public void restore(Params params, OptimizerState state) {
        params.checkAgainst(ParamLayout.of(c), "restored parameters");
        buf.upload(params, buf.p);
        buf.upload(state.m(), buf.mom);
        buf.upload(state.v(), buf.vel);
        step = state.step();
        haveForward = false;
        // FIRST_EXECUTION buffers are not re-sent by a live plan: start a new one that uploads the new values
        closePlan();
        plan = newPlan();
    }

    /** Empty with recompute (like the reference engine: the blocks' intermediates are not kept). */
    @Override
    public Map<String, float[]> activations() {
        if (!haveForward || d.recompute) {
            return Collections.emptyMap();
        }
        FloatArray act = buf.act;
        // always through a DataRange: after a partial copy (logits()), a plain transferToHost(act) copies nothing more
        download().transferToHost(new DataRange(act).withOffset(0).withSize(d.actSize));
        int nc = d.N * d.C;
        Map<String, float[]> out = new LinkedHashMap<>();
        out.put("embed", DeviceBuffers.copy(act, d.hA, nc));
        Residual r = c.residual();
        for (int l = 0; l < d.L; l++) {
            int slab = l * d.aStride;
            String pre = "h." + l + ".";
            if (r.normBeforeBlock()) {
                out.put(pre + "ln1", DeviceBuffers.copy(act, slab + d.nbA, nc));
            }
            out.put(pre + "attn_out", DeviceBuffers.copy(act, slab + d.fA, nc));
            out.put(pre + "resid_mid", DeviceBuffers.copy(act, slab + d.hM, nc));
            if (r.normBeforeBlock()) {
                out.put(pre + "ln2", DeviceBuffers.copy(act, slab + d.nbM, nc));
            }
            out.put(pre + "mlp_out", DeviceBuffers.copy(act, slab + d.fM, nc));
            out.put(pre + "resid_out", DeviceBuffers.copy(act, slab + d.aStride + d.hA, nc));
        }
        out.put("lnf", DeviceBuffers.copy(act, d.lnf, nc));
        out.put("logits", DeviceBuffers.copy(act, d.logits, d.N * d.V));
        return out;
    }

    // ---------------------------------------------------------------- accessors

    /** Parameters, gradients, AdamW state and activations on the device, from the layout's arithmetic. */
    @Override
    public Map<String, Long> deviceBytes() {
        DeviceLayout.Bytes b = d.bytes();
        Map<String, Long> out = new LinkedHashMap<>();
        out.put("parameters", b.parameters());
        out.put("gradients", b.gradients());
        out.put("optimizer state", b.optimizer());
        out.put("activations", b.activations());
        return out;
    }

    /** Device bytes of everything but parameters, gradients and AdamW state (from the layout's arithmetic). */
    @Override
    public long activationBytes() {
        return d.bytes().activations();
    }

    @Override
    public ModelConfig config() {
        return c;
    }

    @Override
    public int batch() {
        return d.B;
    }

    @Override
    public int seqLen() {
        return d.T;
    }

    private void closePlan() {
        if (plan != null) {
            plan.taskKernelTimes().forEach((task, ns) -> taskTime.merge(task, ns, Long::sum));
            try {
                plan.close();
            } finally {
                plan = null;
            }
        }
    }

    /** The kernel set and work-group sizes this session runs with. */
    LaunchShapes shapes() {
        return shapes;
    }

    /** Whether attention keeps only the log-sum-exp (flash attention). */
    boolean flashAttention() {
        return d.flashAttention;
    }

    /** Device kernel time per task summed over this session's executions (with -Dresflow.tornado.profile=true). */
    public Map<String, Long> taskKernelTimes() {
        Map<String, Long> all = new TreeMap<>(taskTime);
        if (plan != null) {
            plan.taskKernelTimes().forEach((task, ns) -> all.merge(task, ns, Long::sum));
        }
        return Collections.unmodifiableMap(all);
    }

    @Override
    public void close() {
        Map<String, Long> times = taskKernelTimes();
        if (GraphPlan.PROFILE && !times.isEmpty()) {
            long total = times.values().stream().mapToLong(Long::longValue).sum();
            System.out.println("[resflow-tornado] device kernel time per task (all executions):");
            times.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                    .forEach(e -> System.out.printf(Locale.ROOT, "  %-28s %9.1f ms %5.1f%%%n", e.getKey(),
                            e.getValue() / 1e6, 100.0 * e.getValue() / total));
        }
        closePlan();
    }
}
