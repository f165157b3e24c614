"""One exception tree: ``except sotkit.SotkitError`` catches everything sotkit raises on its own account."""

import copy
import inspect
import pickle

import pytest

import sotkit
import sotkit.errors
import sotkit.retry
from sotkit.engines import errors as engine_errors
from sotkit.providers import available, create_provider


def test_every_exception_class_sotkit_exports_is_a_sotkit_error():
    exported = {obj for module in (sotkit, sotkit.errors, sotkit.retry, engine_errors)
                for obj in vars(module).values()
                if inspect.isclass(obj) and issubclass(obj, Exception) and not issubclass(obj, Warning)}
    assert {sotkit.StreamStalled, sotkit.RetryAfterTooLong, sotkit.StreamError, sotkit.ModelNotAvailableError} <= exported
    assert [e for e in exported if not issubclass(e, sotkit.SotkitError)] == []
    # what callers matched on before stays true
    assert issubclass(sotkit.StreamStalled, TimeoutError) and issubclass(sotkit.DeadlineExceeded, TimeoutError)
    assert issubclass(sotkit.ConfigError, ValueError)
    # the engines raise the same classes without importing the SDK
    assert sotkit.errors.ConfigError is engine_errors.ConfigError


def test_the_module_docstring_draws_every_class_of_the_tree():
    classes = [name for name, obj in vars(sotkit.errors).items()
               if inspect.isclass(obj) and issubclass(obj, sotkit.SotkitError)]
    assert all(name in sotkit.errors.__doc__ for name in classes), classes


@pytest.mark.parametrize("kind", [sotkit.PartialResultError, sotkit.DeadlineExceeded])
def test_an_error_with_a_partial_result_pickles_and_copies_with_it(kind):
    # a process pool sends a worker's exception back pickled: the default reduce lost the partial result's argument
    error = kind("point 2 failed", sotkit.Result(text="1. Sleep: go to bed early.", mode="sot", model="openai:m"))
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error), copy.deepcopy(error)):
        assert type(clone) is kind and str(clone) == "point 2 failed" and clone.partial == error.partial


def test_only_providers_are_listed_and_accepted():
    assert available() == ["anthropic", "local", "openai"]
    with pytest.raises(sotkit.ConfigError, match="unknown provider '_sse'.*known providers: anthropic, local, openai"):
        create_provider("_sse:x")
    with pytest.raises(sotkit.ConfigError, match="not of the form 'provider:model'.*; providers: anthropic, local"):
        create_provider("gpt-4o")


def test_engine_input_errors_are_sotkit_errors():
    pytest.importorskip("torch")
    from sotkit.engines.lexical_unit.decoding import _validate

    with pytest.raises(sotkit.ConfigError, match="at least 1"):
        _validate([1], 0, 0.9, 3, False, 0)


def test_describe_marks_where_it_cut_a_long_message():
    # probe 142: Point.error ended "... so that it sends the reasoning apar)", cut mid-word with nothing to say so
    long = ValueError("word " * 100)
    said = sotkit.errors.describe(long)
    assert len(said) == 300 and said.endswith("wo…") and said.startswith("ValueError: word word")
    assert sotkit.errors.describe(ValueError("short")) == "ValueError: short"  # whole: no mark
    long.add_note("note " * 100)
    with_note = sotkit.errors.describe(long)
    assert with_note.startswith(said + " note") and with_note.endswith("…") and len(with_note) == 300 + 1 + 400
