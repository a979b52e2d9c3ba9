/**
 * TornadoVM kernels of the tornado backend, one op per class, forward and backward together, written once for every
 * TornadoVM backend (OpenCL, PTX, SPIR-V).
 *
 * <p>Conventions shared by every kernel here:
 * <ul>
 * <li>All tensors live in a few large device arrays: {@code p} (parameters, the flat
 * {@link io.resflow.model.ParamLayout} order), {@code g} (gradients, same layout), {@code act} (forward
 * activations: one slab per layer, then a tail) and {@code dact} (backward scratch). A kernel gets offsets into
 * them instead of separate arrays, so the same compiled kernel serves every layer.</li>
 * <li>The layer comes from {@code layer.get(0)}, a one-element array sent with each execution of a per-layer graph;
 * layer l's tensors sit at {@code base + l * stride} ({@code aStride} for activations, {@code pStride} for
 * parameters and gradients). Graphs that are not per layer pass an array holding 0.</li>
 * <li>Sizes and offsets come from a small per-task {@code IntArray m} (sent once), never from scalar arguments:
 * TornadoVM folds scalars into the generated source, which would make every task and every model a different
 * OpenCL program and defeat the driver's binary cache (on PoCL a kernel build costs about 0.5 s, a cache hit
 * 0.08 s). Floating-point constants (norm eps, skip alpha, attention scale, RoPE tables) come from the session's
 * {@code consts} array at the fixed indices of {@link io.resflow.tornado.kernels.Consts}.</li>
 * <li>Every kernel is a {@link uk.ac.manchester.tornado.api.KernelContext} kernel launched on an explicit grid
 * padded to a multiple of the local size (a global size that is not a multiple fails the launch); out-of-range
 * work-items are guarded, never returned early, because a kernel with barriers needs every work-item at every
 * barrier.</li>
 * <li>A negative offset means "absent" (no bias, no gate, no learned positions).</li>
 * <li>Reductions are deterministic (fixed order, no atomics: floating-point atomics are not portable).</li>
 * <li>Every backward kernel writes ({@code =}) a gradient that has exactly one producer; where the model sums several
 * producers (the residual stream) the later one accumulates ({@code +=}, chosen by an {@code accumulate} entry).</li>
 * <li>Kernel method names avoid OpenCL built-ins: TornadoVM names the OpenCL kernel after the method, and a kernel
 * called {@code step} or {@code rotate} fails to load (CL_INVALID_KERNEL_NAME).</li>
 * </ul>
 */
package io.resflow.tornado.kernels;
