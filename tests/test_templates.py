import pytest

from bayling_cat.errors import ModelError
from bayling_cat.templates import Message, PromptTemplate, conversation

SYSTEM = ("I am an intelligent language assistant developed by the NLP Group of ICT/CAS.\n"
          "Below is a dialog consisting of instructions and responses. Write a response that completes the request.\n")


def test_bayling_one_turn():
    t = PromptTemplate("bayling")
    text = t.render([Message("user", "Provide the German translation for this sentence: Hello")])
    assert text == (
        "I am an intelligent language assistant developed by the NLP Group of ICT/CAS.\n"
        "Below is a dialog consisting of instructions and responses. Write a response that completes the request.\n"
        "\n### Instruction:\nProvide the German translation for this sentence: Hello\n### Response:\n"
    )


def test_bayling_multi_turn():
    t = PromptTemplate("bayling")
    msgs = conversation(["Translate: file", "Use 'Datei' for file."], ["Akte"])
    assert t.render(msgs) == (
        SYSTEM + "\n### Instruction:\nTranslate: file\n### Response:\nAkte</s>\n"
        "### Instruction:\nUse 'Datei' for file.\n### Response:\n"
    )


def test_bayling_llama3_one_and_multi_turn():
    t = PromptTemplate("bayling-llama3")
    assert t.render([Message("user", "  Hello  ")]) == (
        "<|start_header_id|>system<|end_header_id|>\n\nI am BayLing developed by the NLP Group of ICT/CAS.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    msgs = conversation(["Translate: file", "Shorter."], [" Datei "])
    assert t.render(msgs) == (
        "<|start_header_id|>system<|end_header_id|>\n\nI am BayLing developed by the NLP Group of ICT/CAS.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nTranslate: file<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nDatei<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nShorter.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


SMOL_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def test_chat_template_multi_turn():
    t = PromptTemplate("chat", chat_template=SMOL_TEMPLATE, eos_token="<|im_end|>")
    msgs = conversation(["Translate: file", "Shorter."], ["Datei"])
    assert t.render(msgs) == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nTranslate: file<|im_end|>\n<|im_start|>assistant\nDatei<|im_end|>\n"
        "<|im_start|>user\nShorter.<|im_end|>\n<|im_start|>assistant\n"
    )


def test_chat_template_uses_bos_and_raise_exception():
    t = PromptTemplate("chat", chat_template="{{ bos_token }}{% for m in messages %}"
                       "{% if m['role'] == 'system' %}{{ raise_exception('no system') }}{% endif %}"
                       "[{{ m['content'] }}]{% endfor %}", bos_token="<s>")
    assert t.render([Message("user", "hi")]) == "<s>[hi]"
    with pytest.raises(ModelError, match="no system"):
        t.render([Message("system", "x"), Message("user", "hi")])


def test_translation_request_phrasing():
    assert PromptTemplate("bayling").translation_request("Hello", "English", "German") == \
        "Provide the German translation for this sentence: Hello"
    chat = PromptTemplate("chat", chat_template=SMOL_TEMPLATE)
    assert chat.translation_request("Hello", "English", "German").endswith("\n\nHello")


def test_bad_conversations_and_templates():
    with pytest.raises(ValueError):
        PromptTemplate("bayling").render([Message("user", "a"), Message("assistant", "b")])
    with pytest.raises(ValueError):
        conversation(["a"], ["b"])
    with pytest.raises(ModelError):
        PromptTemplate("vicuna")
    with pytest.raises(ModelError):
        PromptTemplate("chat")
