// The umbrella module: `import Lorikeet` brings every public module of the package — tensors,
// quantization, model formats, tokenizers, chat templates, model stores (ollama: / hf: references),
// the Llama model and fine-tuning.
@_exported import TensorCore
@_exported import Quantization
@_exported import ModelFormats
@_exported import Tokenizers
@_exported import ChatTemplates
@_exported import ModelStores
@_exported import Llama
@_exported import FineTuning
