package io.resflow.tornado;

import io.resflow.tornado.kernels.Reduce;
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
 */
final class LaunchShapes {
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
        boolean cpu = device.getDeviceType() == TornadoDeviceType.CPU;
        long maxGroup = Long.MAX_VALUE;
        long[] dims = device.getPhysicalDevice().getDeviceMaxWorkGroupSize();
        if (dims != null && dims.length > 0 && dims[0] > 0) {
            maxGroup = dims[0];
        }
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

    /** A 2D grid over an x by y output where each work-item computes {@code tx x ty} outputs. */
    WorkerGrid tiles(int x, int y, int tx, int ty) {
        WorkerGrid2D g = new WorkerGrid2D(roundUp((x + tx - 1) / tx, tileLocalX),
                roundUp((y + ty - 1) / ty, tileLocalY));
        g.setLocalWork(tileLocalX, tileLocalY, 1);
        return g;
    }
}
