// Tokenizers: work in progress (being written in this session).
