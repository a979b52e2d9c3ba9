package io.resflow.model;

public enum Activation { GELU_TANH, SWIGLU }
