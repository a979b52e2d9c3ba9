package io.resflow.tornado.kernels;

import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/** Builds the per-task integer argument arrays ({@code m}) the kernels read their sizes and offsets from. */
public final class Args {
    private Args() {
    }

    public static IntArray of(int... values) {
        IntArray a = new IntArray(Math.max(1, values.length));
        for (int i = 0; i < values.length; i++) {
            a.set(i, values[i]);
        }
        return a;
    }
}
