// Quantization: work in progress (being written in this session).
