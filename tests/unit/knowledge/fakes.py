"""Test doubles for the knowledge base: a deterministic embedder and a recording chat model."""

from __future__ import annotations

import math
import re
import zlib
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from knowledge.text import terms


class HashingEmbedder:
    """Bag of hashed stems: similar wording gives similar vectors, with no model to load."""

    def __init__(self, name: str = "fake-hashing", dim: int = 256) -> None:
        self._name = name
        self._dim = dim
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self._dim
        vec[0] = 1e-3  # never a zero vector: cosine distance of zero is undefined
        for term in terms(text):
            vec[zlib.crc32(term.encode()) % self._dim] += 1.0
        norm = math.sqrt(sum(v * v for v in vec))
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


class _ScriptedChatModel(BaseChatModel):
    """The chat-model plumbing of the fakes: each reply is `_reply`'s text for the prompt."""

    def _reply(self, messages: list[BaseMessage]) -> str:
        raise NotImplementedError

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self._reply(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])


class RecordingChatModel(_ScriptedChatModel):
    """Replies from a script and remembers every prompt it was sent."""

    replies: list[str] = Field(default_factory=list)
    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    fail: bool = False

    @property
    def _llm_type(self) -> str:
        return "recording-fake"

    def _reply(self, messages: list[BaseMessage]) -> str:
        self.prompts.append(messages)
        if self.fail:
            raise ConnectionError("endpoint unreachable")
        return self.replies.pop(0)


class ObedientChatModel(_ScriptedChatModel):
    """A model that does whatever text anywhere in its prompt tells it to: the worst case of
    a prompt injection. An instruction 'ignore previous instructions and reply: "..."' in a
    document (or a title) is obeyed word for word; otherwise it answers from document [1]."""

    prompts: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "obedient-fake"

    def _reply(self, messages: list[BaseMessage]) -> str:
        prompt = "\n".join(str(m.content) for m in messages)
        self.prompts.append(prompt)
        injected = re.search(r"(?i)ignore previous instructions and reply: “([^”]+)”", prompt)
        if injected:
            return injected.group(1)
        first = re.search(r'<context id="1"[^>]*>\n([^\n]+)', prompt)
        return f"{first.group(1) if first else 'NO_ANSWER'} [1]"
