"""The questions file of ``sotkit eval``: JSON Lines, one ``{"question": ..., "id": ..., "category": ...}`` a line."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..options import check_question

FIELDS = ("question", "id", "category")
#: the report's row of every question together (``Summary.verdicts["general"][ALL]``): no category may be named so
ALL = "all"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    category: str = "general"


def question_id(text: str) -> str:
    """The id of a question given without one: stable while its text is, wherever it sits in the file."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def checked(text: Any, where: str, *, question: bool = False) -> str:
    """``text`` stripped, refused now (naming ``where``) if it cannot be sent or saved, not when its turn comes."""
    shown = str(text)
    try:
        shown.encode("utf-8")
    except UnicodeEncodeError as exc:  # an escaped half of a pair, such as "\ud800", in the JSON
        raise ConfigError(f"{where} holds a lone surrogate {shown[exc.start]!r} (character {exc.start + 1}), which "
                          "can be neither sent nor saved as UTF-8: write the character itself, or both halves of "
                          "its escape (such as \\ud83d\\ude00)") from None
    if not question:
        return shown.strip()
    try:
        return check_question(text)  # what any question must be to be sent
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def field_text(value: Any, where: str) -> str | None:
    """An ``id`` or ``category`` as stored: a str or an int as stripped text, None when not given."""
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise ConfigError(f"{where} must be a non-empty string or a whole number, got {value!r}")
    return checked(value, where)  # written to results.jsonl and report.md: must be UTF-8


def category_text(value: Any, where: str) -> str:
    """A question's category as stored ("general" when not given); "all" is refused: it names the report's row of
    every question together, which a category of that name would take the place of."""
    category = field_text(value, where)
    if category is not None and category.casefold() == ALL:
        raise ConfigError(f"{where} is {category!r}, but \"all\" names the report's row of every question "
                          "together: give the category another name, such as \"all-round\"")
    return "general" if category is None else category


def load_questions(path: str | Path) -> list[Question]:
    """Read and check the whole file before any model is called; errors name the line and what to fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a BOM, as some Windows editors write, is no text
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; pass a JSON Lines file of questions") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text ({exc})") from exc
    questions: list[Question] = []
    seen: dict[str, int] = {}
    # lines end at "\n" only: splitlines() would also split at U+2028, U+2029 or U+0085 inside a JSON string
    for number, line in enumerate(text.split("\n"), 1):
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
        question = checked(question, f'{where}: "question"', question=True)
        qid = field_text(item.get("id"), f'{where}: "id"')
        category = category_text(item.get("category"), f'{where}: "category"')
        qid = question_id(question) if qid is None else qid
        if qid in seen:
            raise ConfigError(f"{where}: id {qid!r} is already used on line {seen[qid]}; ids must be unique "
                              "(a question given twice without an id gets the same id)")
        seen[qid] = number
        questions.append(Question(qid, question, category))
    if not questions:
        raise ConfigError(f"{path}: no questions in the file; write one JSON object a line, such as "
                          '{"question": "How can I sleep better?", "category": "health"}')
    return questions
