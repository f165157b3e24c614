"""The questions file of ``sotkit eval``: JSON Lines, one ``{"question": ..., "id": ..., "category": ...}`` a line."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

FIELDS = ("question", "id", "category")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    category: str = "general"


def question_id(text: str) -> str:
    """The id of a question given without one: stable while its text is, wherever it sits in the file."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def load_questions(path: str | Path) -> list[Question]:
    """Read and check the whole file before any model is called; errors name the line and what to fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; pass a JSON Lines file of questions") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text ({exc})") from exc
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); each line must be an "
                              'object such as {"question": "How can I sleep better?", "category": "health"}') from None
        if not isinstance(item, dict):
            raise ConfigError(f'{where}: a JSON object is needed, such as {{"question": "..."}}; got '
                              f"{type(item).__name__}")
        unknown = sorted(set(item) - set(FIELDS))
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; fields are: "
                              f"{', '.join(FIELDS)}")
        question = item.get("question")
        if not isinstance(question, str) or not question.strip():
            problem = "is missing" if "question" not in item else "must be a non-empty string"
            raise ConfigError(f'{where}: "question" {problem}')
        for name in ("id", "category"):
            value = item.get(name)
            usable = isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip()
            if value is not None and not usable:
                raise ConfigError(f'{where}: "{name}" must be a non-empty string, got {value!r}')
        qid = str(item["id"]).strip() if item.get("id") is not None else question_id(question.strip())
        if qid in seen:
            raise ConfigError(f"{where}: id {qid!r} is already used on line {seen[qid]}; ids must be unique "
                              "(a question given twice without an id gets the same id)")
        seen[qid] = number
        category = str(item["category"]).strip() if item.get("category") is not None else "general"
        questions.append(Question(qid, question.strip(), category))
    if not questions:
        raise ConfigError(f"{path}: no questions in the file; write one JSON object a line, such as "
                          '{"question": "How can I sleep better?", "category": "health"}')
    return questions
