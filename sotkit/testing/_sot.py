"""Replies to sotkit's own calls (a skeleton, its points, a sequential answer, the LLM router's question), told apart
by sotkit's default prompts: for tests of code that calls sotkit (probe 316: the responder users wrote got a Claude
model's prefill and resume wrong, and their tests passed on another path than production takes)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Literal

from ._records import RecordedRequest
from ._replies import Latency, Reply

Call = Literal["skeleton", "point", "router", "sequential"]

_SKELETON = "skeleton (not the full content)"
_ROUTER = "How would you like to answer the question?"
_POINT = re.compile(r"writing of point (\d+)\b")  # (the default expand prompt's; not a "point 3" in the question)
_TITLE = re.compile(r"^\s*(\d+)\.\s*(.+?)\s*$", re.MULTILINE)
#: a skeleton's first number in other forms than the prefill's "1." ("１．", "١.", "1、", "（1）", "①", "一、")
_FIRST_NUMBER = re.compile(r"\s*(?:\d+[.)．）、]|[(（]\d+[)）]|[①-⑳]|[一二三四五六七八九十]+、)")


def sot_call(request: RecordedRequest) -> tuple[Call, int | None]:
    """Which of sotkit's calls ``request`` is, by sotkit's default prompts, and the point's number for a point:
    ``("skeleton", None)``, ``("point", 2)``, ``("router", None)`` or ``("sequential", None)`` (any other prompt, a
    template of your own included)."""
    if _SKELETON in request.user:
        return "skeleton", None
    if _ROUTER in request.user:
        return "router", None
    point = _POINT.search(request.user)
    return ("point", int(point[1])) if point else ("sequential", None)


def sot_responder(skeleton: str, points: Mapping[int, str] | None = None, *, sequential: str = "A plain answer.",
                  router: str = "A", point_latency: Mapping[int, Latency] | None = None,
                  skeleton_latency: Latency | None = None,
                  call_of: Callable[[RecordedRequest], tuple[Call, int | None]] = sot_call,
                  ) -> Callable[[RecordedRequest], Reply]:
    """A responder that answers sotkit's calls as a well-behaved model would: ``skeleton`` (the list, from ``1.``)
    to the skeleton call, ``points[i]`` (else "Details of point i.") to point ``i``'s, ``router`` to the LLM
    router's question (``A``: a list of independent points), ``sequential`` to any other prompt. Where the client
    sent a prefill (Claude before 4.6: the skeleton's ``1.``, a point's ``i. title:``, a broken call's text resumed),
    the reply goes on after it, as the model does. ``call_of`` tells the calls apart: ``sot_call``, by sotkit's
    default prompts, or your own for templates of your own::

        with FakeLLMServer(sot_responder("1. Keep a schedule\\n2. Dim the lights\\n", {1: "Same hour daily."})) as s:
            ...
    """

    titles = dict(_TITLE.findall(skeleton))

    def respond(request: RecordedRequest) -> Reply:
        call, index = call_of(request)
        if call == "skeleton":
            text = skeleton
            if request.prefill and skeleton.startswith(request.prefill):
                text = skeleton[len(request.prefill):]
            elif request.prefill and (first := _FIRST_NUMBER.match(skeleton)):  # the model goes on after "1." in its
                text = " " + skeleton[first.end():].lstrip()  # own words (probe 346: "1.١. ..." lost point 1)
            return Reply(text, latency=skeleton_latency)
        if call != "point" or index is None:
            return Reply(router if call == "router" else sequential)
        text = (points or {}).get(index, f"Details of point {index}.")
        if request.prefill:  # go on after the prefill "i. title:", or a resumed "i. title: what was sent"
            text = " " + text
            header = f"{index}. {titles.get(str(index), '')}:"  # (a title may hold a colon: "Lights out by 22:30")
            header = header if request.prefill.startswith(header) else request.prefill.split(":", 1)[0] + ":"
            written = request.prefill[len(header):]
            text = text[len(written):] if text.startswith(written) else text
        return Reply(text, latency=(point_latency or {}).get(index))

    return respond
