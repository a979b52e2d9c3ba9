package io.resflow.model;

public enum Norm { LAYERNORM, RMSNORM }
