package io.resflow.engine;

import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import io.resflow.model.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;

/**
 * A model of fixed batch shape (B, T) living on one backend: parameters, gradients, AdamW state and activations.
 * Typical use: {@code forward(x, y); backward(); step(opt, lr, 1.0)}.
 */
public interface Session extends AutoCloseable {

    ModelConfig config();

    int batch();

    int seqLen();

    /** Runs the forward pass on inputs (B*T token ids); with targets returns the mean cross-entropy, else NaN. */
    double forward(int[] inputs, int[] targets);

    /** Gradients of the last forward's loss with respect to every parameter (overwrites the previous ones). */
    void backward();

    /**
     * Told during a backward which gradients are final: backward writes the layout from its end toward its start
     * (the head and the final norm first, then the blocks from the last, the embeddings last), so "final" is every
     * float from an offset to the end of the flat layout, and the offsets a backward reports only decrease, ending
     * with 0.
     */
    @FunctionalInterface
    interface GradientsReady {
        /** Every gradient float at layout offset {@code from} or later is final for this backward. */
        void from(long from);
    }

    /**
     * {@link #backward()}, calling {@code ready} as parts of the gradient become final (e.g. to start their
     * all-reduce while the rest of the backward runs). The default reports everything once, at the end.
     */
    default void backward(GradientsReady ready) {
        backward();
        ready.from(0);
    }

    /** Global L2 norm of all gradients. */
    double gradNorm();

    /** One AdamW step with the current gradients multiplied by gradScale; increments the step counter. */
    void step(AdamW opt, double lr, double gradScale);

    /**
     * L2 norms of the residual stream's gradient dL/dh_k from the last backward, for k = 0 .. 2L: h_0 is the
     * embedding output (the stream entering layer 0), h_{2l} the stream entering layer l, h_{2l+1} the stream between
     * its attention and MLP blocks. Empty when the backend does not track them.
     */
    default double[] residualGradNorms() {
        return new double[0];
    }

    /**
     * Bytes held for activations and backward scratch (everything but parameters, gradients and AdamW state), or -1
     * when the backend does not know.
     */
    default long activationBytes() {
        return -1;
    }

    /**
     * Bytes this session holds in an accelerator's own memory, by what they hold: "parameters", "gradients",
     * "optimizer state" and "activations" (the last as {@link #activationBytes()} counts them), in that order. Empty
     * when the session holds everything in host memory.
     */
    default Map<String, Long> deviceBytes() {
        return Map.of();
    }

    /** Logits (B,T,V) of the last forward. */
    float[] logits();

    /** Current parameters (a host copy or a live view; callers must not modify them). */
    Params params();

    /** Gradients of the last backward. */
    Params grads();

    /**
     * Copies the gradients of the last backward, every tensor in layout order, into {@code dst} as float32 (native
     * byte order), e.g. for an all-reduce across processes. The default reads {@link #grads()}; a backend whose
     * {@code grads()} is a copy (a device backend) overrides this and {@link #gradientsFrom}.
     */
    default void gradientsTo(MemorySegment dst) {
        long off = 0;
        for (Tensor t : grads().tensors()) {
            MemorySegment.copy(t.data(), 0, dst, ValueLayout.JAVA_FLOAT, off, t.data().length);
            off += 4L * t.data().length;
        }
    }

    /**
     * Replaces the gradients (layout order, float32) with {@code src}: the next {@link #gradNorm()} and
     * {@link #step} use them. The default writes into {@link #grads()}, which must then be the live gradients.
     */
    default void gradientsFrom(MemorySegment src) {
        long off = 0;
        for (Tensor t : grads().tensors()) {
            MemorySegment.copy(src, ValueLayout.JAVA_FLOAT, off, t.data(), 0, t.data().length);
            off += 4L * t.data().length;
        }
    }

    /**
     * Copies the gradient floats at layout offsets [from, to) into the same offsets of {@code dst} (the whole flat
     * gradient's size), for the parts a {@link GradientsReady} reported. The default reads {@link #grads()}, tensor by
     * tensor (so, like {@link #gradientsFrom(MemorySegment)}'s default, it needs {@code grads()} to be the live
     * gradients; a device backend that keeps the default {@link #backward(GradientsReady)} is only asked for the
     * whole range, through {@link #gradientsTo(MemorySegment)}).
     */
    default void gradientsTo(MemorySegment dst, long from, long to) {
        overlaps(from, to, (a, at, lo, n) -> MemorySegment.copy(a, at, dst, ValueLayout.JAVA_FLOAT, 4 * lo, n));
    }

    /** Replaces the gradient floats at layout offsets [from, to) with those at the same offsets of {@code src}. */
    default void gradientsFrom(MemorySegment src, long from, long to) {
        overlaps(from, to, (a, at, lo, n) -> MemorySegment.copy(src, ValueLayout.JAVA_FLOAT, 4 * lo, a, at, n));
    }

    /** A gradient tensor's part of a layout range: its array, the first index, the layout offset, the count. */
    @FunctionalInterface
    interface Overlap {
        void accept(float[] array, int at, long layoutOffset, int count);
    }

    /** Calls {@code f} for the part of every {@link #grads()} tensor that lies in layout offsets [from, to). */
    private void overlaps(long from, long to, Overlap f) {
        long off = 0;
        for (Tensor t : grads().tensors()) {
            long lo = Math.max(from, off);
            long hi = Math.min(to, off + t.data().length);
            if (lo < hi) {
                f.accept(t.data(), (int) (lo - off), lo, (int) (hi - lo));
            }
            off += t.data().length;
        }
    }

    /** AdamW state: first and second moments, and the number of steps taken. */
    OptimizerState optimizerState();

    /** Restores parameters and AdamW state (for resuming). */
    void restore(Params params, OptimizerState state);

    /**
     * Named intermediate tensors of the last forward (norm outputs, attention and MLP outputs, residual stream,
     * logits), for validation. Empty when the backend does not expose them.
     */
    Map<String, float[]> activations();

    @Override
    void close();
}
