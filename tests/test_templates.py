from pathlib import Path

import pytest

import sotkit
from sotkit.templates import SAMPLE_VARIABLES, Templates


def test_defaults_ship_with_the_package_and_render():
    assert (sotkit.DEFAULT_PROMPTS / "skeleton.jinja").is_file()
    prompt = Templates().render("expand", **SAMPLE_VARIABLES["expand"])
    assert prompt.prefill == "2. Use LED bulbs:"
    assert prompt.user.index("1. Insulate") < prompt.user.index("point 2 (Use LED bulbs)")  # shared part first
    assert Templates().render("skeleton", question="Why?").prefill == "1."


def test_a_directory_overrides_only_the_files_it_has(tmp_path: Path):
    (tmp_path / "expand.jinja").write_text("{% block user %}Point {{ point.index }} of {{ question }}{% endblock %}")
    templates = Templates(tmp_path)
    assert templates.render("expand", **SAMPLE_VARIABLES["expand"]).user.startswith("Point 2 of What")
    assert templates.render("skeleton", question="Why?") == Templates().render("skeleton", question="Why?")


def test_strings_override_too():
    templates = Templates({"sequential.jinja": "{% block system %}Be brief.{% endblock %}"
                                               "{% block user %}{{ question }}{% endblock %}"})
    prompt = templates.render("sequential", question="Why?")
    assert (prompt.system, prompt.user, prompt.prefill) == ("Be brief.", "Why?", None)


@pytest.mark.parametrize("source, message", [
    ("{% block user %}{{ question }{% endblock %}", "syntax error on line 1"),
    ("{% block user %}{{ qestion }}{% endblock %}", "undefined variable ('qestion' is undefined)"),
    ("Hello {{ question }}", "has no {% block user %}"),
    ("{% block user %}{% if false %}x{% endif %}{% endblock %}", "empty user prompt"),
])
def test_a_broken_template_fails_when_the_client_is_built_naming_the_file(tmp_path: Path, source, message):
    (tmp_path / "skeleton.jinja").write_text(source)
    with pytest.raises(sotkit.TemplateError) as caught:
        sotkit.SoT("openai:gpt-4o-mini", api_key="k", templates=tmp_path)
    assert message in str(caught.value)
    assert str(tmp_path / "skeleton.jinja") in str(caught.value)


def test_unknown_names_and_missing_directories_are_reported(tmp_path: Path):
    with pytest.raises(sotkit.TemplateError, match="unknown template 'skeletn'"):
        Templates({"skeletn": "{% block user %}x{% endblock %}"})
    with pytest.raises(sotkit.TemplateError, match="is not a directory"):
        Templates(tmp_path / "nope")
    with pytest.raises(sotkit.TemplateError, match=r"templates=\['a'\]: pass a directory"):
        Templates(["a"])  # type: ignore[arg-type]
    with pytest.raises(sotkit.TemplateError, match="both str; got 'expand': int"):
        Templates({"expand": 123})  # type: ignore[dict-item]


def test_stop_sequences_keep_non_ascii_text_and_take_only_the_documented_escapes():
    source = ("{% block user %}{{ question }}{% endblock %}"
              "{% block stop %}。\n→END\n{{ question }}\n\\n\\t\\\\{% endblock %}")
    prompt = Templates({"sequential": source}).render("sequential", question=r"C:\Users\x", context=None)
    assert prompt.stop == ("。", "→END", "C:\\Users\\x", "\n\t\\")
