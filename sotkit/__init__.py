"""sotkit: LLM answers sooner, by decoding in parallel.

    import sotkit
    result = await sotkit.generate("How can I sleep better?", model="openai:gpt-4o-mini")

``import sotkit`` stays light: no provider SDK, torch or transformers is imported until a model of that
kind is used, and nothing touches the network.
"""

__version__ = "0.1.0"  # before the imports: sotkit.evaluation reads it

from .client import EventStream, SoT, default_model, generate, stream
from .coordinator import CompleteKwargs, RequestKwargs, RequestOptions
from .errors import (ConfigError, DeadlineExceeded, EchoedInstructions, EmptyAnswer, EmptyPoint, FallbackWarning,
                     LimitsUnavailable, ModelNotAvailableError, PartialResultError, PromptCutWarning, PromptTooLong,
                     RequestTooLarge, RetryAfterTooLong, SotkitError, StreamError, StreamStalled, TemplateError)
from .evaluation import evaluate
from .events import (DoneEvent, Event, FallbackEvent, PointDeltaEvent, PointDoneEvent, PointEvent, RetryEvent,
                     RouteEvent, TextEvent, WithdrawEvent)
from .limits_redis import RedisLimits, SharedLimitsWarning
from .overlap import SerialServerWarning
from .result import Mode, Point, Result, Timings, Usage
from .retry import RetryPolicy
from .templates import DEFAULT_PROMPTS, Templates


__all__ = [
    "DEFAULT_PROMPTS", "CompleteKwargs", "ConfigError", "DeadlineExceeded", "DoneEvent", "EchoedInstructions",
    "EmptyAnswer", "EmptyPoint", "Event", "EventStream", "FallbackEvent", "FallbackWarning", "LimitsUnavailable",
    "Mode", "ModelNotAvailableError", "PartialResultError", "Point", "PointDeltaEvent", "PointDoneEvent",
    "PointEvent", "PromptCutWarning", "PromptTooLong", "RedisLimits", "RequestKwargs", "RequestOptions",
    "RequestTooLarge", "Result", "RetryAfterTooLong", "RetryEvent", "RetryPolicy", "RouteEvent",
    "SerialServerWarning", "SharedLimitsWarning", "SoT", "SotkitError", "StreamError", "StreamStalled", "Templates",
    "TemplateError", "TextEvent", "Timings", "Usage", "WithdrawEvent", "default_model", "evaluate", "generate",
    "stream",
]
