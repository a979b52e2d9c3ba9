package io.resflow.engine;

import io.resflow.model.Params;

/** AdamW moments m and v (same names as the parameters) and the number of steps already taken. */
public record OptimizerState(Params m, Params v, int step) {
}
