package io.resflow.model;

public enum Positions { LEARNED, ROPE }
