"""Tiny real-architecture checkpoints and local tokenizers, written where no hub is reachable.

Every reward model family and the transformers backend is tested (tests/prm_fixtures.py) and
checked on a lent GPU (benchmarks/gpu_check.py) on checkpoints written here: transformers' own
model classes with tiny configs (hidden 32, 2 layers) and random weights, saved with the same
layout (weight names, head shapes, special tokens, chat templates) as the real models, and
tokenizers trained in memory with the ``tokenizers`` library. Needs only torch and transformers.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

CORPUS = [
    "Janet has 16 eggs per day. She eats 3 for breakfast and bakes muffins with 4.",
    "Step 1: She has 16 - 3 - 4 = 9 eggs left. ки\nStep 2: She sells them for 2 dollars each. ки",
    "Step 3: So she makes 9 * 2 = 18 dollars every day. The answer is: 18 ки",
    "To find the total, we add 12 + 30 = 42. Then we divide by 6 to get 7.",
    "The answer is \\boxed{7}.\n\nLet x be the number of apples. Then 2x + 3 = 11, so x = 4.",
    "What is 12 * 7 - 5? First, 12 * 7 = 84. Then 84 - 5 = 79.\n\nSo the result is 79.",
    "+ - + - ки ки ки the a of to is and we so then step answer",
    "Please reason step by step, and put your final answer within \\boxed{}.",
]

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}"
    "<|end_header_id|>\n\n{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def _train(tok: Tokenizer, vocab_size: int, specials: list[str], alphabet: list[str]) -> None:
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=alphabet,
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer)


def bytelevel_tokenizer(specials: list[str], *, bos: str | None = None, eos: str | None = None,
                        pad: str | None = None, add_bos: bool = False,
                        chat_template: str | None = None, vocab_size: int = 420):
    """A GPT-2 style byte-level BPE (Qwen2, Llama 3)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    _train(tok, vocab_size, specials, pre_tokenizers.ByteLevel.alphabet())
    if add_bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, pad_token=pad)
    if chat_template:
        fast.chat_template = chat_template
    return fast


def metaspace_tokenizer(vocab_size: int = 420):
    """A SentencePiece-style BPE with a BOS on encode (Llama 2 / Mistral)."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    alphabet = sorted(set("".join(CORPUS)) | {"▁", "\n"})
    _train(tok, vocab_size, ["<unk>", "<s>", "</s>"], alphabet)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")


def qwen_tokenizer(extra: tuple[str, ...] = ()):
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *extra]
    return bytelevel_tokenizer(specials, eos="<|im_end|>", pad="<|endoftext|>",
                               chat_template=CHATML_TEMPLATE)


def llama3_tokenizer():
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                "<|end_header_id|>", "<|eot_id|>"]
    return bytelevel_tokenizer(specials, bos="<|begin_of_text|>", eos="<|eot_id|>",
                               add_bos=True, chat_template=LLAMA3_TEMPLATE)


def tiny_config(kind: str, tokenizer, **overrides):
    """A 2-layer, hidden-32 config of a real architecture."""
    from transformers import LlamaConfig, MistralConfig, Qwen2Config

    cls = {"qwen2": Qwen2Config, "llama": LlamaConfig, "mistral": MistralConfig}[kind]
    kwargs = dict(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        initializer_range=0.3, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    kwargs.update(overrides)
    return cls(**kwargs)


def save_state(directory: Path, state: dict, config, tokenizer, shards: int = 1) -> Path:
    """Write ``state`` as safetensors (sharded with an index when ``shards`` > 1)."""
    directory.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    state = {k: v.detach().contiguous().clone() for k, v in state.items()}
    keys = list(state)
    if shards == 1:
        save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
        return directory
    weight_map = {}
    per = -(-len(keys) // shards)
    for i in range(shards):
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = {k: state[k] for k in keys[i * per:(i + 1) * per]}
        save_file(part, str(directory / name), metadata={"format": "pt"})
        weight_map.update({k: name for k in part})
    (directory / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    return directory


def build_causal_lm(directory: Path, kind: str, tokenizer, seed: int = 0, **overrides):
    """A tiny causal LM of a real architecture, saved with save_pretrained."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = tiny_config(kind, tokenizer, **overrides)
    model = AutoModelForCausalLM.from_config(config).eval()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return model


def build_qwen_prm(directory: Path, seed: int = 0, layout: str = "mlp", head_std: float = 0.5, **overrides):
    """Qwen2.5-Math-PRM layout: Qwen2 decoder (``model.*``) + ``score`` head with 2 labels.

    ``layout="mlp"``: the released checkpoint's head, Linear(h, h) -> ReLU ->
    Linear(h, 2) stored as ``score.0.*`` and ``score.2.*`` (its remote code,
    Qwen2ForProcessRewardModel). ``layout="linear"``: transformers'
    Qwen2ForTokenClassification (``score.weight``/``score.bias``).
    Returns (backbone, head, tokenizer).
    """
    from transformers import Qwen2Model

    tokenizer = qwen_tokenizer(extra=("<extra_0>",))
    torch.manual_seed(seed)
    config = tiny_config("qwen2", tokenizer, num_labels=2, **overrides)
    config.architectures = ["Qwen2ForProcessRewardModel"]
    config.auto_map = {"AutoModel": "modeling_qwen2_rm.Qwen2ForProcessRewardModel"}
    backbone = Qwen2Model(config).eval()
    h = config.hidden_size
    if layout == "mlp":
        head = torch.nn.Sequential(torch.nn.Linear(h, h), torch.nn.ReLU(), torch.nn.Linear(h, 2))
    else:
        head = torch.nn.Linear(h, 2)
    for p in head.parameters():
        torch.nn.init.normal_(p, std=head_std)
    state = {f"model.{k}": v for k, v in backbone.state_dict().items()}
    state.update({f"score.{k}": v for k, v in head.state_dict().items()})
    save_state(directory, state, config, tokenizer)
    return backbone, head.eval(), tokenizer


def build_skywork_prm(directory: Path, seed: int = 0, shards: int = 2):
    """Skywork-o1-Open-PRM layout: Qwen2ForCausalLM weights + ``v_head.summary`` Linear(h, 1).

    Written as a sharded checkpoint with an index (the value head sits in
    the last shard), the tokenizer with a BOS token as their code expects.
    Returns (causal_lm, v_head, tokenizer).
    """
    from transformers import Qwen2ForCausalLM

    tokenizer = bytelevel_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                    bos="<|endoftext|>", eos="<|endoftext|>", pad="<|endoftext|>",
                                    chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = tiny_config("qwen2", tokenizer)
    config.architectures = ["Qwen2ForPrmModel"]
    lm = Qwen2ForCausalLM(config).eval()
    v_head = torch.nn.Linear(config.hidden_size, 1)
    torch.nn.init.normal_(v_head.weight, std=0.5)
    torch.nn.init.normal_(v_head.bias, std=0.5)
    state = dict(lm.state_dict())
    state["v_head.summary.weight"] = v_head.weight
    state["v_head.summary.bias"] = v_head.bias
    save_state(directory, state, config, tokenizer, shards=shards)
    return lm, v_head.eval(), tokenizer


def build_math_shepherd(directory: Path, seed: int = 0, **overrides):
    """math-shepherd-mistral-7b-prm layout: a Mistral causal LM, Llama-2 style tokenizer."""
    tokenizer = metaspace_tokenizer()
    model = build_causal_lm(directory, "mistral", tokenizer, seed, sliding_window=None, **overrides)
    return model, tokenizer


def build_rlhflow(directory: Path, seed: int = 0):
    """RLHFlow Llama3.1-8B-PRM layout: a Llama causal LM with the Llama 3 chat template."""
    tokenizer = llama3_tokenizer()
    model = build_causal_lm(directory, "llama", tokenizer, seed)
    return model, tokenizer


def build_orm(directory: Path, seed: int = 0, pad: bool = True, score_std: float = 0.5, **overrides):
    """Skywork-Reward-Llama-3.1 layout: LlamaForSequenceClassification with one label."""
    from transformers import LlamaForSequenceClassification

    tokenizer = llama3_tokenizer()
    if pad:
        tokenizer.add_special_tokens({"pad_token": "<|end_of_text|>"})
    torch.manual_seed(seed)
    config = tiny_config("llama", tokenizer, num_labels=1, **overrides)
    model = LlamaForSequenceClassification(config).eval()
    torch.nn.init.normal_(model.score.weight, std=score_std)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return model, tokenizer


BUILDERS = {
    "qwen-prm": build_qwen_prm,
    "qwen-prm-linear": lambda d: build_qwen_prm(d, seed=1, layout="linear"),
    "skywork-prm": build_skywork_prm,
    "math-shepherd": build_math_shepherd,
    "rlhflow": build_rlhflow,
    "orm": build_orm,
    "causal-qwen2": lambda d: build_causal_lm(d, "qwen2", qwen_tokenizer()),
    "causal-qwen2-other": lambda d: build_causal_lm(d, "qwen2", qwen_tokenizer(), seed=1),
}
