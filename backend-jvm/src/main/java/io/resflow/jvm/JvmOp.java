package io.resflow.jvm;

import jdk.incubator.vector.VectorSpecies;

/**
 * What every jvm op holds: the vector species its kernels are written for (the machine's widest, {@link JvmOps#SP})
 * and the executor its jobs run on.
 */
abstract class JvmOp {
    static final VectorSpecies<Float> SP = JvmOps.SP;
    static final int L = JvmOps.L;

    final Exec x;

    JvmOp(Exec x) {
        this.x = x;
    }
}
