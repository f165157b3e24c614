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


@pytest.mark.parametrize("name, source, unknown, close", [
    # the sample render takes neither branch (no context; point 2), so only a check of the names can see these
    ("skeleton", "{% block user %}{% if context %}{{ contxt }}{% endif %}{{ question }}{% endblock %}",
     "contxt", "context"),
    ("expand", "{% block user %}{% if point.index > 5 %}{{ pont.title }}{% endif %}{{ question }}{% endblock %}",
     "pont", "point"),
])
def test_a_misspelt_variable_in_an_untaken_branch_fails_when_the_client_is_built(tmp_path: Path, name, source,
                                                                                  unknown, close):
    (tmp_path / f"{name}.jinja").write_text(source)
    with pytest.raises(sotkit.TemplateError) as caught:
        sotkit.SoT("openai:gpt-4o-mini", api_key="k", templates=tmp_path)
    message = str(caught.value)
    assert str(tmp_path / f"{name}.jinja") in message
    assert f"({unknown!r} is undefined) (did you mean {close!r}?)" in message
    assert f"{name!r} templates get: {', '.join(SAMPLE_VARIABLES[name])}" in message


def test_jinja_globals_loop_and_set_variables_are_not_taken_for_misspellings():
    source = ("{% block user %}{% set ns = namespace(n=0) %}{% for p in points %}{{ loop.index }}. {{ p.title }} "
              "{% endfor %}{{ range(2)|list }} {{ dict(a=1) }} {{ question }} {{ point.title }}{% endblock %}")
    prompt = Templates({"expand": source}).render("expand", **SAMPLE_VARIABLES["expand"])
    assert prompt.user.startswith("1. Insulate 2. Use LED bulbs [0, 1]")


@pytest.mark.parametrize("block, close", [("sytem", "system"), ("prefil", "prefill")])
def test_a_misspelt_block_name_is_refused_not_dropped(block, close):
    source = f"{{% block {block} %}}Be brief.{{% endblock %}}{{% block user %}}{{{{ question }}}}{{% endblock %}}"
    with pytest.raises(sotkit.TemplateError) as caught:
        Templates({"sequential": source})
    message = str(caught.value)
    assert f"'<string sequential>' has an unknown {{% block {block} %}} (did you mean {close!r}?)" in message
    assert "the blocks are: system, user, prefill, stop" in message


def test_an_unreadable_template_file_is_a_template_error_naming_it(tmp_path: Path):
    path = tmp_path / "skeleton.jinja"
    path.write_bytes("{% block user %}Größe {{ question }}{% endblock %}".encode("latin-1"))
    with pytest.raises(sotkit.TemplateError, match="is not UTF-8 text .*; save it with UTF-8 encoding") as caught:
        Templates(tmp_path)
    assert str(path) in str(caught.value)
    path.unlink()
    path.mkdir()
    with pytest.raises(sotkit.TemplateError, match="is a directory, not a file; rename or remove it") as caught:
        Templates(tmp_path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("source, tag", [
    ("{% extends 'skeleton.jinja' %}{% block user %}x{% endblock %}", "extends"),
    ("{% block user %}{% include 'x.jinja' %}{{ question }}{% endblock %}", "include"),
    ("{% import 'x.jinja' as x %}{% block user %}{{ question }}{% endblock %}", "import"),
    ("{% block user %}{% from 'x.jinja' import m %}{{ question }}{% endblock %}", "from ... import"),
])
def test_include_extends_and_import_are_refused_as_unsupported(source, tag):
    with pytest.raises(sotkit.TemplateError) as caught:
        Templates({"skeleton": source})
    assert (f"template '<string skeleton>' uses {{% {tag} %}} on line 1, which is not supported: a template is "
            "one self-contained file") in str(caught.value)


def test_an_error_in_the_templates_own_code_is_a_template_error_at_build_and_at_a_call():
    with pytest.raises(sotkit.TemplateError, match=r"'<string skeleton>' failed to render: ZeroDivisionError: "
                                                   r"division by zero; fix the template"):
        Templates({"skeleton": "{% block user %}{{ 1 / 0 }}{{ question }}{% endblock %}"})
    # the sample point (2) renders; point 3 only fails at a call, and says so the same way
    templates = Templates({"expand": "{% block user %}{{ question }} {{ 6 // (point.index - 3) }}{% endblock %}"})
    with pytest.raises(sotkit.TemplateError, match=r"'<string expand>' failed to render: ZeroDivisionError: "):
        templates.render("expand", question="q", points=[], point={"index": 3, "title": "T"})


def test_stop_lines_may_be_indented_and_keep_escaped_tabs_at_their_ends():
    source = ("{% block user %}{{ question }}{% endblock %}{% block stop %}\n"
              "    \\n{{ question }}.\n\t\\n\\n  \n   \n  \\tEND\\t \n \\n{{ question }}.\\s\n{% endblock %}")
    prompt = Templates({"sequential": source}).render("sequential", question="2", context=None)
    assert prompt.stop == ("\n2.", "\n\n", "\tEND\t", "\n2. ")  # \s: a space kept at a stop's end
