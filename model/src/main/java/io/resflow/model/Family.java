package io.resflow.model;

public enum Family { GPT2, LLAMA }
