/**
 * Tokenizers: GPT-2 byte-level BPE, a byte tokenizer, Hugging Face {@code tokenizer.json} through DJL, and text
 * chunking for token files.
 * May import: io.resflow.model, io.resflow.safetensors.
 */
package io.resflow.text;
