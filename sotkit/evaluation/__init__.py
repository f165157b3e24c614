"""``sotkit eval``: is SoT faster, and as good, on my questions? See ``evaluate``.

Modules: ``questions`` (the input file), ``run`` (answering, resuming, the results file), ``judge`` (pairwise
verdicts in both orders), ``report`` (tallies, report.md, plots), ``progress`` (the progress line).
"""

from .judge import ASPECTS, outcome, parse_verdict
from .questions import Question, load_questions
from .report import Summary, Tally, summarize
from .run import evaluate

__all__ = ["ASPECTS", "Question", "Summary", "Tally", "evaluate", "load_questions", "outcome", "parse_verdict",
           "summarize"]
