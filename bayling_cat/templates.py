"""Prompt templates: a conversation (system, user and assistant turns) rendered to the exact text a model was trained on.

Four families:
- ``bayling``: BayLing-1 and BayLing-2 (7B/13B, LLaMA-2 tokenizer), the ``### Instruction:`` format.
- ``bayling-llama3``: BayLing on Llama-3 (header tokens).
- ``chat``: the tokenizer's own Jinja chat template, rendered the way Hugging Face renders it.
- ``fewshot``: a base (pretrained) model without a chat template, such as the default Gemma 3 270M: a few-shot
  list of translations it continues (``fewshot.py``); it serves translation requests and revision turns it can
  express as examples, and refuses anything else with a clear error.

Rendering gives text; special tokens appear in it as their strings (``</s>``, ``<|eot_id|>``) and the engine
maps those strings to their token ids. BOS is not part of the text: the engine adds it when the model's
metadata says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

from bayling_cat import fewshot
from bayling_cat.errors import ModelError

BAYLING_SYSTEM = (
    "I am an intelligent language assistant developed by the NLP Group of ICT/CAS.\n"
    "Below is a dialog consisting of instructions and responses. Write a response that completes the request.\n"
)
BAYLING_LLAMA3_SYSTEM = "I am BayLing developed by the NLP Group of ICT/CAS."

TEMPLATE_NAMES = ("bayling", "bayling-llama3", "chat", "fewshot")


@dataclass(frozen=True)
class Message:
    role: str  # "system", "user" or "assistant"
    content: str


def _check_turns(messages: Sequence[Message]) -> list[Message]:
    turns = [m for m in messages if m.role != "system"]
    if not turns or turns[-1].role != "user":
        raise ValueError("a conversation to answer must end with a user turn")
    for m in turns:
        if m.role not in ("user", "assistant"):
            raise ValueError(f"unknown role {m.role!r}")
    return turns


def render_bayling(messages: Sequence[Message]) -> str:
    turns = _check_turns(messages)
    system = next((m.content for m in messages if m.role == "system"), BAYLING_SYSTEM)
    out = [system, "\n"]
    for m in turns:
        if m.role == "user":
            out.append(f"### Instruction:\n{m.content}\n")
        else:
            out.append(f"### Response:\n{m.content}</s>\n")
    out.append("### Response:\n")
    return "".join(out)


def render_bayling_llama3(messages: Sequence[Message]) -> str:
    turns = _check_turns(messages)
    system = next((m.content for m in messages if m.role == "system"), BAYLING_LLAMA3_SYSTEM)
    out = [f"<|start_header_id|>system<|end_header_id|>\n\n{system.strip()}<|eot_id|>"]
    for m in turns:
        out.append(f"<|start_header_id|>{m.role}<|end_header_id|>\n\n{m.content.strip()}<|eot_id|>")
    out.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
    return "".join(out)


def _jinja_env():
    # The same environment transformers uses for chat templates, so the text is identical.
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise TemplateError(message)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


class ChatTemplate:
    """A tokenizer's own Jinja chat template."""

    def __init__(self, source: str, bos_token: str | None = None, eos_token: str | None = None):
        from jinja2.exceptions import TemplateError

        try:
            self._template = _jinja_env().from_string(source)
        except TemplateError as exc:
            raise ModelError(f"the model's chat template does not compile: {exc}") from None
        self._special = {"bos_token": bos_token or "", "eos_token": eos_token or ""}

    def render(self, messages: Sequence[Message]) -> str:
        from jinja2.exceptions import TemplateError

        _check_turns(messages)
        try:
            return self._template.render(
                messages=[{"role": m.role, "content": m.content} for m in messages],
                add_generation_prompt=True,
                **self._special,
            )
        except TemplateError as exc:
            raise ModelError(f"the model's chat template refused the conversation: {exc}") from None


class Note(str):
    """A translation hint that also carries context. The string itself is the instruction (a formality, a
    plural form); ``context`` is text around the segment that the model reads to understand it and never
    translates (DeepL's ``context``). A str, so every layer that passes hints along carries it unchanged."""

    context: str | None

    def __new__(cls, instruction: str = "", context: str | None = None):
        note = super().__new__(cls, instruction)
        note.context = context.strip() if context and context.strip() else None
        return note

    def __bool__(self):
        return bool(str(self)) or self.context is not None


# how languages with a T-V distinction write the formal and the informal "you"
FORMS_OF_ADDRESS = {"de": ("Sie", "du"), "fr": ("vous", "tu"), "es": ("usted", "tú"), "it": ("Lei", "tu"),
                    "nl": ("u", "je"), "pt": ("o senhor / a senhora", "você"), "pl": ("Pan / Pani", "ty"),
                    "ru": ("вы", "ты"), "uk": ("ви", "ти"), "cs": ("vy", "ty"), "tr": ("siz", "sen"),
                    "ja": ("敬語", "タメ口"), "ko": ("존댓말", "반말")}


def formality_instruction(formality: str | None, target_lang: str) -> str | None:
    """DeepL's ``formality`` (more, less, prefer_more, prefer_less, default) as an instruction in the request."""
    if formality not in ("more", "less", "prefer_more", "prefer_less"):
        return None
    formal = formality in ("more", "prefer_more")
    forms = FORMS_OF_ADDRESS.get(target_lang.split("-")[0])
    pronoun = f" ({forms[0 if formal else 1]})" if forms else ""
    return f"Use the {'formal' if formal else 'informal'} form of address{pronoun}."


class PromptTemplate:
    """What the engine needs to turn a conversation into a prompt for one model."""

    def __init__(self, name: str, chat_template: str | None = None, bos_token: str | None = None,
                 eos_token: str | None = None):
        if name not in TEMPLATE_NAMES:
            raise ModelError(f"unknown prompt template {name!r} (known: {', '.join(TEMPLATE_NAMES)})")
        self.name = name
        self._chat = None
        if name == "chat":
            if not chat_template:
                raise ModelError("the model uses the 'chat' template but carries no chat template")
            self._chat = ChatTemplate(chat_template, bos_token, eos_token)

    def render(self, messages: Sequence[Message]) -> str:
        if self.name == "bayling":
            return render_bayling(messages)
        if self.name == "bayling-llama3":
            return render_bayling_llama3(messages)
        if self.name == "fewshot":
            return fewshot.render(messages)
        return self._chat.render(messages)

    @property
    def base_model(self) -> bool:
        """A base model: it continues examples and follows no instructions (see fewshot.py)."""
        return self.name == "fewshot"

    def translation_request(self, text: str, source_name: str, target_name: str, tags: Sequence[str] = (),
                            hint: str | None = None, terms: Sequence[tuple[str, str]] = ()) -> str:
        """The user turn that asks for a translation, phrased as the model family was trained.

        ``tags`` are the inline-code placeholders in ``text`` (``<1>``, ``</1>``, ``<2/>``): the model is told
        to keep them.
        """
        keep = f", keeping the tags {' '.join(tags)} unchanged around the words they mark" if tags else ""
        context = getattr(hint, "context", None)
        if context:  # the context first, the text to translate last, as every form below ends with it
            return f"Context, for understanding only (do not translate it): {context}\n\n" + \
                self.translation_request(text, source_name, target_name, tags, str(hint) or None, terms)
        note = f" {hint}" if hint else ""
        if self.name.startswith("bayling"):
            # BayLing's own translation and terminology instructions, as in its evaluation scripts.
            request = f"Provide the {target_name} translation for this sentence{keep}.{note} {text}" if note else \
                f"Provide the {target_name} translation for this sentence{keep}: {text}"
            if terms:
                request += f"\nMake sure to include these words: {', '.join(t for _, t in terms)}"
            return request
        glossary = ""
        if terms:
            glossary = " Use these glossary terms: " + "; ".join(f"{s} = {t}" for s, t in terms) + "."
        return (
            f"Translate the following {source_name} text into {target_name}{keep}.{note}{glossary} "
            f"Reply with the {target_name} translation only, without notes or explanations.\n\n{text}"
        )


def conversation(user_turns: Iterable[str], assistant_turns: Iterable[str] = ()) -> list[Message]:
    """Interleave user and assistant turns: u1, a1, u2, a2, ..., u_n (one more user turn than answers)."""
    users, answers = list(user_turns), list(assistant_turns)
    if len(users) != len(answers) + 1:
        raise ValueError("a conversation to answer has exactly one more user turn than assistant turns")
    messages: list[Message] = []
    for i, u in enumerate(users):
        messages.append(Message("user", u))
        if i < len(answers):
            messages.append(Message("assistant", answers[i]))
    return messages
