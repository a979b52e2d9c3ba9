package io.resflow.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resflow.tornado.kernels.gpu.MatmulTiled;
import org.junit.jupiter.api.Test;

/** The tiled matmul's group sides: the device's side, smaller only where the matrix is narrower than its tile. */
class LaunchShapesTest {
    @Test
    void matmulSideCoversTheMatrixWithoutWholePaddedBlocks() {
        assertEquals(16, LaunchShapes.matmulSide(256, 16)); // GPT-2 small's 256 rows: the device's groups
        assertEquals(16, LaunchShapes.matmulSide(50257, 16));
        assertEquals(8, LaunchShapes.matmulSide(32, 16)); // a tiny model's 32 rows: one 32-row tile, none padded
        assertEquals(16, LaunchShapes.matmulSide(33, 16));
        assertEquals(2, LaunchShapes.matmulSide(8, 16));
        assertEquals(1, LaunchShapes.matmulSide(1, 16));
        assertEquals(8, LaunchShapes.matmulSide(256, 8)); // never above the device's side
        for (int max : new int[] {1, 2, 4, 8, 16}) {
            for (int n = 1; n <= 300; n++) {
                int side = LaunchShapes.matmulSide(n, max);
                assertTrue(side <= max && Integer.bitCount(side) == 1, n + " / " + max + ": " + side);
                // the tile covers n, or the side is the device's; and half the side would not have covered it
                assertTrue(MatmulTiled.R * side >= n || side == max, n + " / " + max + ": " + side);
                assertTrue(side == 1 || MatmulTiled.R * side / 2 < n, n + " / " + max + ": " + side);
            }
        }
    }
}
