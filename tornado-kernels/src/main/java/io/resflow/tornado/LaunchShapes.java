package io.resflow.tornado;

import io.resflow.model.BadInputException;
import io.resflow.tornado.kernels.Reduce;
import io.resflow.tornado.kernels.gpu.FlashAttention;
import io.resflow.tornado.kernels.gpu.MatmulTiled;
import java.util.Locale;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.TornadoDeviceType;

/**
 * Work-group sizes, chosen from the device's properties (its type and maximum work-group size), and the padded grids
 * built from them: every global size is rounded up to a multiple of the local size, because a launch whose global
 * size is not a multiple fails (OpenCL error -54) without TornadoVM raising an exception.
 *
 * <p>On a CPU device a work-group runs as a loop on one core, so small groups leave more of them to spread over the
 * cores and keep reductions short; on a GPU larger groups fill the multiprocessors.
 *
 * <p>Kernel shapes: {@link #gpu} selects the GPU-shaped kernels ({@code kernels.gpu}: matmul tiled through local
 * memory without transposes, flash attention keeping only the log-sum-exp, column reductions for the norms' parameter
 * gradients) for every device that is not a CPU, the CPU-shaped ones (register blocks of Float8, one work-item per
 * row) for a CPU. {@code -Dresflow.tornado.shapes=gpu} (or {@code cpu}) forces one set on any device, so the GPU
 * shapes can be checked on PoCL. The GPU tiles are sized from the device: the matmul group is at most 16 x 16 and fits
 * the maximum work-group size and the local memory (two tiles of {@link MatmulTiled#LOCAL} floats); flash attention
 * needs 16 R work-items and {@link FlashAttention#localBytes} of local memory, else the CPU attention kernels run.
 */
final class LaunchShapes {
    /** The property forcing one kernel set: auto (default), cpu or gpu. */
    static final String SHAPES_PROPERTY = "resflow.tornado.shapes";

    /** Whether the GPU-shaped kernels run (matmul, attention when {@link #flashRows} > 0, norm parameter gradients). */
    final boolean gpu;
    /** Work-group (x, y) of the tiled matmul kernels: each work-item computes a 4 x 4 block. */
    final int matmulX;
    final int matmulY;
    /** Rows R per flash-attention work-group (16 x R work-items); 0: the CPU attention kernels. */
    final int flashRows;
    /** Work-group (x channels, y row lanes) of the column reductions. */
    final int columnX;
    final int columnY;
    /** Power-of-two local size of the row-reduction kernels (one group per row). */
    final int rowLocal;
    /** Local size of elementwise kernels. */
    final int elemLocal;
    /** Local size of the one-group reductions. */
    final int reduceLocal;
    /** Local size (x, y) of the register-tiled matmul kernels. */
    final int tileLocalX;
    final int tileLocalY;
    /** Number of work-groups of the first pass of a two-pass reduction. */
    final int reduceGroups;

    LaunchShapes(TornadoDevice device) {
        this(device, device.getPhysicalDevice().getDeviceLocalMemorySize(), System.getProperty(SHAPES_PROPERTY, "auto"),
                0);
    }

    /**
     * @param localMemory the device's local memory in bytes
     * @param shapes      auto, cpu or gpu
     * @param headDim     the model's head size (0: not known, flash attention sized for the largest)
     */
    LaunchShapes(TornadoDevice device, long localMemory, String shapes, int headDim) {
        boolean cpu = device.getDeviceType() == TornadoDeviceType.CPU;
        long maxGroup = Long.MAX_VALUE;
        long[] dims = device.getPhysicalDevice().getDeviceMaxWorkGroupSize();
        if (dims != null && dims.length > 0 && dims[0] > 0) {
            maxGroup = dims[0];
        }
        gpu = switch (shapes.strip().toLowerCase(Locale.ROOT)) {
            case "auto", "" -> !cpu;
            case "gpu" -> true;
            case "cpu" -> false;
            default -> throw new BadInputException(
                    "-D" + SHAPES_PROPERTY + "=" + shapes + ": expected auto, cpu or gpu");
        };
        long tileBytes = 2L * MatmulTiled.LOCAL * Float.BYTES;
        int side = powerOfTwoAtMost(Math.min(MatmulTiled.MAX_GROUP, (long) Math.sqrt(maxGroup)));
        boolean tiled = gpu && localMemory >= tileBytes;
        matmulX = tiled ? side : 0;
        matmulY = tiled ? side : 0;
        int hd = headDim > 0 ? headDim : FlashAttention.MAX_HEAD_DIM;
        int rows = powerOfTwoAtMost(Math.min(FlashAttention.ROWS, maxGroup / FlashAttention.LANES));
        boolean flash = gpu && hd <= FlashAttention.MAX_HEAD_DIM && localMemory >= FlashAttention.localBytes(hd)
                && maxGroup >= FlashAttention.LANES;
        flashRows = flash ? rows : 0;
        columnX = powerOfTwoAtMost(Math.min(32, maxGroup));
        columnY = powerOfTwoAtMost(Math.min(256 / columnX, Math.max(1, maxGroup / columnX)));
        rowLocal = powerOfTwoAtMost(Math.min(cpu ? 16 : 128, maxGroup));
        elemLocal = powerOfTwoAtMost(Math.min(cpu ? 64 : 256, maxGroup));
        reduceLocal = powerOfTwoAtMost(Math.min(Reduce.MAX_LOCAL, maxGroup));
        int tile = powerOfTwoAtMost(Math.min(cpu ? 4 : 16, (long) Math.sqrt(maxGroup)));
        tileLocalX = tile;
        tileLocalY = tile;
        int units = Math.max(1, device.getPhysicalDevice().getDeviceMaxComputeUnits());
        reduceGroups = Math.min(Reduce.MAX_LOCAL, Math.max(1, units * (cpu ? 2 : 8)));
    }

    private static int powerOfTwoAtMost(long n) {
        int p = 1;
        while (p * 2L <= Math.min(n, Reduce.MAX_LOCAL)) {
            p *= 2;
        }
        return p;
    }

    static int roundUp(long n, int multiple) {
        long r = (Math.max(n, 1) + multiple - 1) / multiple * multiple;
        return Math.toIntExact(r);
    }

    /** One work-item per element, n elements. */
    WorkerGrid elements(long n) {
        WorkerGrid1D g = new WorkerGrid1D(roundUp(n, elemLocal));
        g.setLocalWork(elemLocal, 1, 1);
        return g;
    }

    /** One work-group of {@code local} items per row. */
    WorkerGrid rows(int rows, int local) {
        WorkerGrid1D g = new WorkerGrid1D(Math.multiplyExact(rows, local));
        g.setLocalWork(local, 1, 1);
        return g;
    }

    WorkerGrid rows(int rows) {
        return rows(rows, rowLocal);
    }

    /** Exactly one work-group. */
    WorkerGrid single() {
        return rows(1, reduceLocal);
    }

    /** One line naming the kernel set and its work-groups, e.g. for a test's or a benchmark's output. */
    String describe() {
        if (!gpu) {
            return "cpu shapes (matmul 4x4 Float8 blocks, local " + tileLocalX + "x" + tileLocalY
                    + "; attention per row)";
        }
        return "gpu shapes (matmul " + (tiledMatmul() ? "tiles " + 4 * matmulY + "x" + 4 * matmulX + ", groups "
                + matmulX + "x" + matmulY + " (smaller for smaller matrices)" : "not tiled: too little local memory")
                + "; attention "
                + (flashRows > 0 ? "flash, groups 16x" + flashRows : "per row") + "; columns " + columnX + "x"
                + columnY + ")";
    }

    /** Whether the matmul runs tiled through local memory ({@code MatmulTiled}). */
    boolean tiledMatmul() {
        return matmulX > 0;
    }

    /**
     * The tiled matmul's grid over a rows x cols C: groups of lx x ly work-items, each a 4 ly x 4 lx tile. A side is
     * matmulX (matmulY) unless C is narrower (shorter) than that tile: then the smallest power of two whose tile
     * covers it, since every padded row or column of a group costs its FMAs all the same (GPT-2's 256-row products
     * keep 16 x 16; a 32-row product of a tiny model gets groups of 16 x 8 and no padded rows, which halves its work
     * on a GPU and the simulator's time).
     */
    WorkerGrid matmulTiles(int rows, int cols) {
        int lx = matmulSide(cols, matmulX);
        int ly = matmulSide(rows, matmulY);
        int gx = (cols + MatmulTiled.R * lx - 1) / (MatmulTiled.R * lx);
        int gy = (rows + MatmulTiled.R * ly - 1) / (MatmulTiled.R * ly);
        WorkerGrid2D g = new WorkerGrid2D(Math.multiplyExact(gx, lx), Math.multiplyExact(gy, ly));
        g.setLocalWork(lx, ly, 1);
        return g;
    }

    /** The group side along a dimension of n outputs: at most max, no larger than its 4-wide blocks need. */
    static int matmulSide(int n, int max) {
        int side = 1;
        while (side < max && MatmulTiled.R * side < n) {
            side *= 2;
        }
        return side;
    }

    /** Column reductions over {@code cols} channels: x over ceil(cols / columnX) groups, y exactly columnY lanes. */
    WorkerGrid columns(int cols) {
        WorkerGrid2D g = new WorkerGrid2D(roundUp(cols, columnX), columnY);
        g.setLocalWork(columnX, columnY, 1);
        return g;
    }

    /** Flash attention: x one group of 16 lanes, y flashRows rows per group, {@code groups} groups. */
    WorkerGrid flash(long groups) {
        WorkerGrid2D g = new WorkerGrid2D(FlashAttention.LANES, Math.toIntExact(groups * flashRows));
        g.setLocalWork(FlashAttention.LANES, flashRows, 1);
        return g;
    }

    /** A 2D grid over an x by y output where each work-item computes {@code tx x ty} outputs. */
    WorkerGrid tiles(int x, int y, int tx, int ty) {
        WorkerGrid2D g = new WorkerGrid2D(roundUp((x + tx - 1) / tx, tileLocalX),
                roundUp((y + ty - 1) / ty, tileLocalY));
        g.setLocalWork(tileLocalX, tileLocalY, 1);
        return g;
    }
}
