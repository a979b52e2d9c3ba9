package io.resflow.tornado.kernels;

/**
 * The local-memory tree reduction the work-group kernels use, and the size of its local arrays.
 *
 * <p>Each kernel writes the tree out in its own body:
 * <pre>
 * scratch[lid] = value;
 * ctx.localBarrier();
 * for (int stride = ctx.localGroupSizeX / 2; stride > 0; stride >>= 1) {
 *     if (lid &lt; stride) {
 *         scratch[lid] += scratch[lid + stride];
 *     }
 *     ctx.localBarrier();
 * }
 * float total = scratch[0];
 * ctx.localBarrier();   // before the array is reused
 * </pre>
 * It needs a power-of-two local size no larger than {@link #MAX_LOCAL}, and every work-item of the group at every
 * barrier (out-of-range work-items contribute a neutral value, never return early).
 *
 * <p>Why not a helper method taking the local array: TornadoVM 5.2 compiles an access to a local array inside an
 * inlined helper as if it were a Java array object, at index {@code 4 * i + 16} (the byte offset past an array
 * header) of the local float array. Results still come out right when the helper is the only code touching the
 * array, because every access is shifted the same way, but every work-item past a quarter of the array writes out
 * of bounds. PoCL ran it silently; oclgrind reported "Index (256) exceeds static array size (256)" on the first
 * LayerNorm with 128-wide groups, and gave wrong sums (174 for 379) in a test that read the array back directly.
 * Local arrays are therefore only ever indexed in the kernel that allocates them.
 */
public final class Reduce {
    /** Largest work-group size a kernel with local memory may be launched with. */
    public static final int MAX_LOCAL = 256;

    private Reduce() {
    }
}
