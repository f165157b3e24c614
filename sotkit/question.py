"""What the router and the skeleton parser read of a question: its two ends, however long it is."""

from __future__ import annotations

#: characters kept from each end of a long question
END_CHARS = 2000


def question_view(question: str) -> str:
    """A long question's two ends, where the ask is stated: a 2 MB question (a pasted document) then costs the
    router's regexes and the skeleton parser's echo check no more than a page does, instead of seconds on the
    event loop (the rules router took 4 s on one; the parser's echo check 40 ms a line)."""
    if len(question) <= 2 * END_CHARS:
        return question
    return f"{question[:END_CHARS]}\n...\n{question[-END_CHARS:]}"
