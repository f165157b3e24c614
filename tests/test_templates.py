import re
import shutil
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
    (tmp_path / "expand.jinja").write_text("{% block user %}Point {{ point.index }} ({{ point.title }}) of "
                                           "{{ question }}{% endblock %}")
    templates = Templates(tmp_path)
    assert templates.render("expand", **SAMPLE_VARIABLES["expand"]).user.startswith("Point 2 (Use LED bulbs) of What")
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
    ("{% block user %}{% if false %}{{ question }}{% endif %}{% endblock %}", "empty user prompt"),
    ("{% block user %}\u200b{% if false %}{{ question }}{% endif %}\u2060{% endblock %}", "empty user prompt"),
    # probe 107: what would be silently left out of every prompt
    ("{% block user %}List 3 tips.{% endblock %}", "never uses {{ question }}"),
    ("Answer in French.\n{% block user %}{{ question }}{% endblock %}", "has text outside its blocks on line 1"),
    ("{% set tone = 'brief' %}{% block user %}{{ question }}{% endblock %}", "has {% set %} outside its blocks"),
    ("{% block user %}{{ question }}{% endblock %}\n{{ question }} again", "text outside its blocks on line 2"),
    ("{% block user %}{{ question }}{% endblock %}\n\n\nstray", "text outside its blocks on line 4"),
    ("{% block user %}{{ question }}{% endblock %}\n\n {{ question }}", "text outside its blocks on line 3"),
    ("{% filter upper %}x{% endfilter %}{% block user %}{{ question }}{% endblock %}", "has {% filter %} outside"),
    ("{% set t %}brief{% endset %}{% block user %}{{ question }}{% endblock %}", "has {% set %} outside"),
    # ... also where a block uses it: it was an "undefined variable" (probe 166)
    ("{% set tone = 'brief' %}{% block user %}{{ tone }} {{ question }}{% endblock %}", "has {% set %} outside"),
    ("{% macro hi(q) %}Hi {{ q }}{% endmacro %}{% block user %}{{ hi(question) }}{% endblock %}",
     "has {% macro %} outside"),
    ("{% block user %}{{ question }}{% endblock %}\n\u200b \u200b\nstray", "text outside its blocks on line 3"),
    ("{% autoescape true %}x{% endautoescape %}{% block user %}{{ question }}{% endblock %}",
     "has a statement outside its blocks on line 1"),
    # probe 305: a Python repr went to the model, and the check took it for the question (each sample's differs)
    ("{% block user %}Answer: {{ question.strip }}{% endblock %}", "writes a method or function (<built-in method "
     "strip of str object at 0x"),
    ("{% block user %}{{ question.split() }}{% endblock %}", "writes a list as Python shows it (\"['What', "),
    # probe 314: the advice, and the line after a comment, were read by no test
    ("{% block user %}{{ question.split() }}{% endblock %}", "join a list's, {{ points|map(attribute='title')|"
     "join(', ') }}"),
    ("{% block user %}{{ question }}{% endblock %}\n\n{#c#}\n{{ question }}", "text outside its blocks on line 4"),
])
def test_a_broken_template_fails_when_the_client_is_built_naming_the_file(tmp_path: Path, source, message):
    (tmp_path / "skeleton.jinja").write_text(source)
    for templates in (tmp_path, {"skeleton": source}):
        with pytest.raises(sotkit.TemplateError) as caught:
            sotkit.SoT("openai:gpt-4o-mini", api_key="k", templates=templates)
        assert message in str(caught.value)
    assert "<string skeleton>" in str(caught.value)


def test_a_lone_surrogate_in_a_template_string_is_refused_when_the_client_is_built():
    # probe 107: it failed at the first call, as a UnicodeEncodeError (a file cannot hold one: it is read as UTF-8)
    with pytest.raises(sotkit.TemplateError, match=re.escape("lone surrogate ('\\ud800') at offset 30")):
        sotkit.SoT("openai:gpt-4o-mini", api_key="k",
                   templates={"expand": "{% block user %}{{ question }}\ud800{{ point.title }}{% endblock %}"})


def test_stop_sequences_written_per_point_are_counted_for_the_longest_skeleton():
    # probe 107: two with the sample's two points passed; a skeleton of six points sent five, and OpenAI refused them
    per_point = ("{% block user %}{{ question }}: {{ point.title }}{% endblock %}{% block stop %}"
                 "{% for p in points if p.index != point.index %}{{ p.title }}\n{% endfor %}{% endblock %}")
    with pytest.raises(sotkit.TemplateError, match="has 99 stop sequences for a skeleton of 100 points, but "
                                                   "openai:gpt-4o-mini takes at most 4"):
        sotkit.SoT("openai:gpt-4o-mini", api_key="k", templates={"expand": per_point})
    sotkit.SoT("openai:gpt-4o-mini", api_key="k", base_url="http://vllm:8000/v1", templates={"expand": per_point})


def test_a_template_file_saved_with_a_bom_or_zero_width_spaces_outside_its_blocks_builds(tmp_path: Path):
    # review 108: Windows editors save UTF-8 with a BOM, which was read as text outside the blocks
    source = "{% block user %}{{ question }}{% endblock %}\u200b\n"
    (tmp_path / "sequential.jinja").write_text("\ufeff" + source, encoding="utf-8")
    assert Templates(tmp_path).render("sequential", question="Why?").user == "Why?"
    assert Templates({"sequential": "\ufeff" + source}).render("sequential", question="Why?").user == "Why?"


@pytest.mark.parametrize("name, source", [
    ("judge_aspect", "{% block user %}{{ question }} {{ answer_a }} {{ answer_b }} on {{ aspect }}{% endblock %}"),
    ("judge_aspect", "{% block user %}{{ question }} {{ answer_a }} {{ answer_b }}: {{ criterion }}{% endblock %}"),
    ("skeleton", "{% block system %}Outline answers to: {{ question }}{% endblock %}{% block user %}Go.{% endblock %}"),
    ("expand", "{% block user %}{{ question }}{% for p in points %}{{ p.title }}{% endfor %}{{ point.index }}"
               "{% endblock %}"),
])
def test_what_a_call_is_about_may_be_written_anywhere_it_is_sent(name, source):
    Templates({name: source})  # builds


@pytest.mark.parametrize("name, source, missing", [
    ("expand", "{% block user %}Expand a point of: {{ question }}{% endblock %}", "{{ point }}"),
    ("expand", "{% block user %}Expand {{ point.title }}.{% endblock %}", "{{ question }}"),
    ("sequential", "{% block user %}Answer well.{% endblock %}", "{{ question }}"),
    ("router", "{% block user %}Say sot or sequential.{% endblock %}", "{{ question }}"),
    ("judge_pairwise", "{% block user %}{{ question }} A: {{ answer_a }}. Which wins?{% endblock %}",
     "{{ answer_b }}"),
    ("judge_aspect", "{% block user %}{{ question }} {{ answer_a }} {{ answer_b }}{% endblock %}",
     "{{ aspect }} or {{ criterion }}"),
])
def test_a_template_that_leaves_out_what_its_call_is_about_is_refused(name, source, missing):
    # probe 107: every point was sent the same prompt, a judge saw one answer of two, ... and all came back a success
    with pytest.raises(sotkit.TemplateError, match=re.escape(f"never uses {missing}")):
        Templates({name: source})


def test_unknown_names_and_missing_directories_are_reported(tmp_path: Path):
    with pytest.raises(sotkit.TemplateError, match="unknown template 'skeletn' .*; templates are: skeleton, expand, "
                                                   "sequential, router, judge_pairwise, judge_aspect$"):
        Templates({"skeletn": "{% block user %}x{% endblock %}"})  # (the names: probe 314)
    with pytest.raises(sotkit.TemplateError, match="is not a directory"):
        Templates(tmp_path / "nope")
    with pytest.raises(sotkit.TemplateError, match=r"templates=\['a'\]: pass a directory"):
        Templates(["a"])  # type: ignore[arg-type]
    with pytest.raises(sotkit.TemplateError, match="both str; got str 'expand': int"):
        Templates({"expand": 123})  # type: ignore[dict-item]
    with pytest.raises(sotkit.TemplateError, match="both str; got int 1: str"):  # (probe 250: "got 1: str")
        Templates({1: "{% block user %}{{ question }}{% endblock %}"})  # type: ignore[dict-item]



def test_an_empty_templates_path_is_refused_not_read_as_the_current_directory(tmp_path: Path, monkeypatch):
    # templates="" (or --templates "", a variable left unset) loaded whatever *.jinja the process's directory held
    (tmp_path / "expand.jinja").write_text("{% block user %}Say only: hi{% endblock %}")
    monkeypatch.chdir(tmp_path)
    for empty in ("", " "):
        with pytest.raises(sotkit.TemplateError, match=re.escape(f"templates={empty!r}: pass a directory")):
            Templates(empty)


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


def test_an_unknown_filter_in_an_untaken_branch_fails_when_the_client_is_built():
    # probe 345: it passed, and failed at the first long question ("No filter named 'summarize' found")
    source = ("{% block user %}{{ question }}{% if question|length > 5000 %} {{ question|upperr }}{% endif %}"
              "{% endblock %}")
    with pytest.raises(sotkit.TemplateError, match=r"template '.*' uses an unknown filter 'upperr' on line 1 \(did "
                                                   r"you mean 'upper'\?\)"):
        sotkit.SoT("openai:gpt-4o-mini", api_key="k", templates={"sequential": source})
    # review 347: an unknown test so, and a filter block (one message for both, not "has a syntax error")
    for source, kind, odd in (("{% if question is palindrom %}x{% endif %}", "test", "palindrom"),
                              ("{% filter upperr %}x{% endfilter %}", "filter", "upperr"),
                              # review 348: named in a string
                              ("{% if context %}{{ context|map('upperr')|join }}{% endif %}", "filter", "upperr"),
                              ("{% if context %}{{ context|select('oddd')|join }}{% endif %}", "test", "oddd"),
                              ("{% if context %}{{ points|selectattr('index', 'eqq', 1)|list }}{% endif %}", "test",
                               "eqq")):
        with pytest.raises(sotkit.TemplateError, match=f"uses an unknown {kind} '{odd}' on line 1"):
            sotkit.SoT("openai:gpt-4o-mini", api_key="k",
                       templates={"sequential": "{% block user %}{{ question }}" + source + "{% endblock %}"})


def test_sotkits_own_words_in_a_point_prompt_are_the_shipped_templates_and_a_copy_reads_as_them():
    # probe 345: the echo filter read a template of the user's as sotkit's instructions (a disclaimer it asked for
    # was dropped); review 347: a copy of the API template for a local: model read as the user's
    from sotkit.templates import DEFAULT_PROMPTS

    variables = {"question": "How can I sleep better?", "context": None, "point": {"index": 2, "title": "Dim lights"},
                 "points": [{"index": 1, "title": "Keep a schedule"}, {"index": 2, "title": "Dim lights"}]}
    shipped = {local: Templates(local=local).render("expand", **variables) for local in (False, True)}
    assert shipped[False].user != shipped[True].user and shipped[False].instructions is None
    copy = (DEFAULT_PROMPTS / "expand.jinja").read_text()
    for local in (False, True):
        assert Templates({"expand": copy}, local=local).render("expand", **variables).instructions is None
    mine = Templates({"expand": "{% block user %}{{ question }} {{ point.title }}. End with: No advice.{% endblock %}"},
                     local=True).render("expand", **variables)
    assert shipped[False].user in mine.instructions and shipped[True].user in mine.instructions
    assert "No advice" not in mine.instructions
    # review 348: clauses about the point are found by marks, not by its words: a sentence of the context naming the
    # title, a question inside the context, a short title inside a word ("Go", "Good")
    source = ("{% block user %}{{ context }}\nQ: {{ question }}\nWrite about {{ point.title }}. Good luck to you."
              "{% endblock %}")
    go = variables | {"point": {"index": 2, "title": "Go"}, "context": "Dim lights help. How can I sleep better?"}
    words = Templates({"expand": source}).render("expand", **go).instructions
    assert words.endswith("\nHow can I sleep better?\nWrite about Go.") and "Good luck" not in words
    assert words.count("Dim lights help") == 1  # (the shipped template's context, quoted: no words of its own)
    # a template that reads their values itself (reviews 349-350: a branch on them, a filter, a split, a computation
    # its marks fail): all of its prompt counts, with the shipped words, as before probe 345
    for reading in ("{% if question.endswith('?') %}Be brief.{% endif %}", "{{ point.title|upper }}",
                    "{{ question.split()[1] }}", "{% if question|length == 3 %}{{ 1 // 0 }}{% endif %}"):
        prompt = Templates({"expand": source.replace("Good luck", reading + " Good luck")}).render("expand", **go)
        assert prompt.instructions.endswith(prompt.user) and "You're responsible for continuing" in prompt.instructions


def test_jinja_globals_loop_and_set_variables_are_not_taken_for_misspellings():
    source = ("{% block user %}{% set ns = namespace(n=0) %}{% for p in points %}{{ loop.index }}. {{ p.title }} "
              "{% endfor %}{{ range(2)|join(',') }} {{ dict(a=1)['a'] }} {{ question }} {{ point.title }}"
              "{% endblock %}")
    prompt = Templates({"expand": source}).render("expand", **SAMPLE_VARIABLES["expand"])
    assert prompt.user.startswith("1. Insulate 2. Use LED bulbs 0,1 1 ")


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
    # the points checked (1-3) render; point 4 only fails at a call, and says so the same way
    templates = Templates({"expand": "{% block user %}{{ question }} {{ point.title }} {{ 6 // (point.index - 4) }}"
                                     "{% endblock %}"})
    with pytest.raises(sotkit.TemplateError, match=r"'<string expand>' failed to render: ZeroDivisionError: "):
        templates.render("expand", question="q", points=[], point={"index": 4, "title": "T"})


@pytest.mark.parametrize("name, source, unsent", [
    # probe 153: each built, and every call then asked the model something without the question (or the point)
    ("sequential", "{% block user %}Answer the question.{% if context %} {{ context }}: {{ question }}{% endif %}"
                   "{% endblock %}", "{{ question }} without a context"),
    ("sequential", "{% block user %}Answer it.{% if not context %} {{ question }}{% endif %}{% endblock %}",
     "{{ question }} with a context"),
    ("skeleton", "{% block user %}{% set q = question %}Outline the answer.{% endblock %}",
     "{{ question }} without a context"),
    ("skeleton", "{% block user %}Outline it.{% if false %}{{ question }}{% endif %}{% endblock %}",
     "{{ question }} without a context"),
    ("sequential", "{% block user %}Answer.{% endblock %}{% block prefill %}{{ question }}{% endblock %}",
     "{{ question }} without a context"),
    ("sequential", "{% block user %}Answer.{% endblock %}{% block stop %}{{ question }}{% endblock %}",
     "{{ question }} without a context"),
    ("expand", "{% block user %}{{ question }}: go on.{% if false %}{{ point.title }}{% endif %}{% endblock %}",
     "{{ point }} without a context"),
    ("judge_pairwise", "{% block user %}{{ question }} A: {{ answer_a }}{% if false %}{{ answer_b }}{% endif %}"
                       "{% endblock %}", "{{ answer_b }}"),
    # review 158: a condition on the point or the question changed the prompt, yet sent neither
    ("expand", "{% block user %}{{ question }}{% if point.index == 1 %} Open with a lead-in.{% endif %} Write the "
               "point.{% endblock %}", "{{ point }} without a context"),
    ("skeleton", "{% block user %}Outline it.{% if question|length > 35 %} Be brief.{% endif %}{% endblock %}",
     "{{ question }} without a context"),
    # review 161: the point's number alone, its title only in the prefill (not sent to OpenAI); the first point's
    # title left out; an aspect rubric covering two of the five
    ("expand", "{% block user %}{{ question }} Write only point {{ point.index }}.{% endblock %}"
               "{% block prefill %}{{ point.index }}. {{ point.title }}:{% endblock %}",
     "{{ point.title }} without a context"),
    ("expand", "{% block user %}{{ question }} {% if point.index == 1 %}Begin with an introduction.{% else %}Write: "
               "{{ point.title }}{% endif %}{% endblock %}", "{{ point.title }} without a context"),
    ("judge_aspect", "{% block user %}{{ question }} {{ answer_a }} {{ answer_b }} {% if aspect == 'relevance' %}On "
                     "topic?{% elif aspect == 'coherence' %}One whole?{% endif %}{% endblock %}",
     "{{ aspect }} or {{ criterion }}"),
])
def test_a_template_that_never_sends_what_its_call_is_about_fails_when_built(name, source, unsent):
    with pytest.raises(sotkit.TemplateError, match=re.escape(f"'<string {name}>' does not send {unsent}: ") +
                       "(its user and system prompts|point 1's prompt) came out alike"):
        Templates({name: source})


@pytest.mark.parametrize("name, source", [
    # probe 250: built, and a request's context= was never sent, while the model was told to answer from it
    ("sequential", "{% block user %}{% if context %}Answer only from the document you were given.\n{% endif %}"
                   "{{ question }}{% endblock %}"),
    ("skeleton", "{% block user %}{% set background = context %}Outline: {{ question }}{% endblock %}"),
    ("expand", "{% block user %}{{ question }}: {{ point.title }}{% endblock %}"
               "{% block prefill %}{{ context }}{% endblock %}"),
])
def test_a_template_that_reads_the_context_but_never_sends_it_fails_when_built(name, source):
    with pytest.raises(sotkit.TemplateError, match=re.escape(f"'<string {name}>' reads {{{{ context }}}} but does not "
                                                             "send it: its user and system prompts came out alike")):
        Templates({name: source})


def test_a_template_that_sends_only_a_long_context_is_taken():  # (review 252: refused)
    Templates({"sequential": "{% block user %}{% if context and context|length > 200 %}{{ context }}\n{% endif %}"
                             "{{ question }}{% endblock %}"})


def test_a_context_written_without_a_condition_writes_nothing_when_a_request_has_none():
    # probe 250: the prompt read "Context: None"
    templates = Templates({"sequential": "{% block user %}Context: {{ context }}\nQuestion: {{ question }}"
                                         "{% endblock %}"})
    assert templates.render("sequential", question="Why?").user == "Context: \nQuestion: Why?"
    assert templates.render("sequential", question="Why?", context="Notes.").user == "Context: Notes.\nQuestion: Why?"


@pytest.mark.parametrize("name, source", [
    ("sequential", "{% block system %}Question: {{ question | upper }}{% endblock %}{% block user %}Answer it."
                   "{% endblock %}"),
    ("sequential", "{% block user %}{% set q = question %}{% if context %}{{ context }} {% endif %}{{ q }}"
                   "{% endblock %}"),
    ("expand", "{% block user %}{{ question }}{% for p in points %} {{ p.title }}{% endfor %}: write point "
               "{{ point.index }}.{% endblock %}"),
    # review 156: refused by a first version of the check, which rendered marker values a call never gets
    ("expand", "{% block user %}{{ question }}: write {{ points[point.index - 1].title }}.{% endblock %}"),
    ("expand", "{% block user %}{{ question }}{% for p in points %}\n{{ p.title }}{% if p.index == point.index %} "
               "<- this one{% endif %}{% endfor %}{% endblock %}"),
    ("sequential", "{% block user %}{{ question | truncate(12) }}{% endblock %}"),
    ("judge_aspect", "{% block user %}{{ question }} {{ answer_a }} {{ answer_b }} {% set hints = {'relevance': "
                     "'On topic?', 'coherence': 'One whole?'} %}{{ hints.get(aspect, criterion) }}{% endblock %}"),
    ("expand", "{% block user %}{{ question }}{% if point.index == 1 %} Open with a lead-in.{% endif %} Write "
               "{{ point.title }}.{% endblock %}"),
])
def test_a_template_that_sends_them_another_way_is_taken(name, source):
    Templates({name: source})


@pytest.mark.parametrize("name, source, says", [
    # review 161: both were called "an undefined variable", and neither said with which value it failed
    ("judge_aspect", "{% block user %}{{ question }} {{ answer_a }} {{ answer_b }} {% set h = {'relevance': 'R', "
                     "'coherence': 'C'} %}{{ h[aspect] }}{% endblock %}",
     "failed to render: UndefinedError: 'dict object' has no attribute 'diversity'; fix the template so that it "
     "renders for any value its variables can take (with aspect='diversity', as a call may have it)"),
    ("expand", "{% block user %}{{ question }} {{ points[point.index].title }}{% endblock %}",
     "failed to render: UndefinedError: list object has no element 2; fix the template"),
    # probe 166: a field a point lacks read as a bare render failure, not naming the point's fields
    ("expand", "{% block user %}{{ question }} {{ point.name }}{% endblock %}",
     "reads a field a point does not have ('dict object' has no attribute 'name'): a point (`point`, and each of "
     "`points`) has `index` and `title`"),
    # ... but only a point's: the question is a str (review 168)
    ("expand", "{% block user %}{{ question.text }} {{ point.title }}{% endblock %}",
     "failed to render: UndefinedError: 'str object' has no attribute 'text'"),
])
def test_a_template_that_fails_for_a_value_a_call_may_have_says_which(name, source, says):
    with pytest.raises(sotkit.TemplateError, match=re.escape(f"template '<string {name}>' {says}")):
        Templates({name: source})


def test_stop_lines_may_be_indented_and_keep_escaped_tabs_at_their_ends():
    source = ("{% block user %}{{ question }}{% endblock %}{% block stop %}\n"
              "    \\n{{ question }}.\n\t\\n\\n  \n   \n  \\tEND\\t \n \\n{{ question }}.\\s\n{% endblock %}")
    prompt = Templates({"sequential": source}).render("sequential", question="2", context=None)
    assert prompt.stop == ("\n2.", "\n\n", "\tEND\t", "\n2. ")  # \s: a space kept at a stop's end


SKELETON = "{% block user %}Outline: {{ question }}{% endblock %}"
EXPAND = "{% block user %}EXPAND-CUSTOM {{ point.title }} for {{ question }}{% endblock %}"


@pytest.mark.parametrize("file_name, meant", [
    ("expand.jinja2", "expand.jinja"),
    ("expand.j2", "expand.jinja"),
    ("expand.jinja.txt", "expand.jinja"),  # Windows' Notepad adds .txt behind a hidden extension
    ("Expand.jinja", "expand.jinja"),
    ("EXPAND.JINJA", "expand.jinja"),
    ("Judge_Pairwise.jinja2", "judge_pairwise.jinja"),
    ("expnad.jinja", "expand.jinja"),
])
def test_a_file_meant_as_a_template_but_misnamed_is_refused_saying_what_to_rename_it_to(tmp_path, file_name, meant):
    # next to a well named template, the misnamed one was silently ignored: the default expand prompt was sent
    (tmp_path / "skeleton.jinja").write_text(SKELETON)
    (tmp_path / file_name).write_text(EXPAND)
    with pytest.raises(sotkit.TemplateError) as caught:
        sotkit.SoT("openai:gpt-4o-mini", api_key="k", templates=tmp_path)
    assert str(tmp_path / file_name) in str(caught.value)
    assert str(caught.value).endswith(f"is not read as a template: templates are named skeleton.jinja, expand.jinja, "
                                      f"sequential.jinja, router.jinja, judge_pairwise.jinja, judge_aspect.jinja; "
                                      f"rename it to {meant}")


def test_a_directory_of_only_misnamed_templates_names_the_file_not_just_no_templates(tmp_path: Path):
    (tmp_path / "macros.j2").write_text("{% macro m() %}x{% endmacro %}")
    with pytest.raises(sotkit.TemplateError) as caught:
        Templates(tmp_path)
    assert str(caught.value) == (f"{str(tmp_path / 'macros.j2')!r} is not read as a template: templates are named "
                                 "skeleton.jinja, expand.jinja, sequential.jinja, router.jinja, "
                                 "judge_pairwise.jinja, judge_aspect.jinja; move it out of the folder (a template is "
                                 "one self-contained file)")  # no close name: none suggested


@pytest.mark.parametrize("file_name", ["footer.jinja", "expand_old.jinja", "header.jinja"])
def test_a_helper_or_backup_file_is_not_told_to_take_a_templates_name(tmp_path: Path, file_name):
    # probe 166: "footer.jinja" was told to become router.jinja, which would have replaced the router's prompt
    (tmp_path / "expand.jinja").write_text(EXPAND)
    (tmp_path / file_name).write_text("{% block user %}Thanks!{% endblock %}")
    with pytest.raises(sotkit.TemplateError, match="move it out of the folder") as caught:
        Templates(tmp_path)
    assert "rename" not in str(caught.value)


def test_a_directory_of_only_variants_for_models_served_in_process_is_theirs(tmp_path: Path):
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "expand.jinja").write_text(EXPAND)
    variables = {"question": "How can I sleep better?", "points": [], "point": {"index": 1, "title": "Dim it"}}
    assert Templates(tmp_path, local=True).render("expand", **variables).user.startswith("EXPAND-CUSTOM")
    with pytest.raises(sotkit.TemplateError, match="holds templates only in local/, which only models served"):
        Templates(tmp_path)  # an API model gets none of them (review 172: "no *.jinja templates")


@pytest.mark.parametrize("file_name, meant", [("skeleton_prompt.jinja", "skeleton"), ("expand-v2.jinja", "expand")])
def test_a_templates_name_with_a_suffix_is_told_to_drop_it(tmp_path: Path, file_name, meant):
    (tmp_path / file_name).write_text(EXPAND)
    with pytest.raises(sotkit.TemplateError, match=f"rename it to {meant}.jinja"):
        Templates(tmp_path)


def test_a_copy_of_the_default_prompts_keeps_the_variants_for_models_served_in_process(tmp_path: Path):
    # probe 166: the copy's expand.jinja (the paper's prompt) replaced the small-model one for local: models, and
    # its own local/expand.jinja was ignored
    shutil.copytree(sotkit.DEFAULT_PROMPTS, tmp_path / "prompts")
    variables = {"question": "How can I sleep better?", "points": [], "point": {"index": 1, "title": "Dim it"}}
    for local in (False, True):
        assert Templates(tmp_path / "prompts", local=local).render("expand", **variables) == \
            Templates(local=local).render("expand", **variables)
    (tmp_path / "prompts" / "local" / "expand.jinja").write_text(EXPAND)
    assert Templates(tmp_path / "prompts", local=True).render("expand", **variables).user.startswith("EXPAND-CUSTOM")
    assert not Templates(tmp_path / "prompts").render("expand", **variables).user.startswith("EXPAND-CUSTOM")


def test_a_broken_variant_for_models_served_in_process_is_refused_for_any_model(tmp_path: Path):
    # probe 193: a copy of prompts/ whose local/expand.jinja had a syntax error, or was misspelt, loaded for an API
    # model and failed only once the folder was used with a local: one
    shutil.copytree(sotkit.DEFAULT_PROMPTS, tmp_path / "prompts")
    (tmp_path / "prompts" / "local" / "expand.jinja").write_text("{% block user %}{{ question {% endblock %}")
    with pytest.raises(sotkit.TemplateError, match="local/expand.jinja"):
        Templates(tmp_path / "prompts")
    (tmp_path / "prompts" / "local" / "expand.jinja").rename(tmp_path / "prompts" / "local" / "expnd.jinja")
    with pytest.raises(sotkit.TemplateError, match="rename it to expand.jinja"):
        Templates(tmp_path / "prompts")


@pytest.mark.parametrize("folder", ["judges", "local/local"])
def test_templates_in_a_folder_that_is_never_read_are_refused(tmp_path: Path, folder):
    # probe 193: judges/judge_pairwise.jinja and local/local/expand.jinja were taken without a word, and never used
    (tmp_path / "expand.jinja").write_text(EXPAND)
    (tmp_path / folder).mkdir(parents=True)
    (tmp_path / folder / "expand.jinja").write_text(EXPAND)
    for local in (False, True):
        with pytest.raises(sotkit.TemplateError, match=f"{folder}' holds templates that are never read"):
            Templates(tmp_path, local=local)


def test_an_editors_hidden_folder_of_copies_is_left_alone(tmp_path: Path):
    # review 194: JupyterLab keeps ".ipynb_checkpoints/expand-checkpoint.jinja" beside an edited template
    (tmp_path / "expand.jinja").write_text(EXPAND)
    for folder in (tmp_path / ".ipynb_checkpoints", tmp_path / "local" / ".ipynb_checkpoints"):
        folder.mkdir(parents=True)
        (folder / "expand-checkpoint.jinja").write_text(EXPAND)
    variables = {"question": "How can I sleep better?", "points": [], "point": {"index": 1, "title": "Dim it"}}
    for local in (False, True):
        assert Templates(tmp_path, local=local).render("expand", **variables).user.startswith("EXPAND-CUSTOM")


def test_a_templates_path_given_as_a_mappings_source_is_refused_saying_so(tmp_path: Path):
    path = tmp_path / "expand.jinja"
    path.write_text(EXPAND)
    with pytest.raises(sotkit.TemplateError, match="a mapping's values are Jinja sources, not paths"):
        Templates({"expand": str(path)})


def test_other_files_in_a_templates_directory_are_left_alone(tmp_path: Path):
    (tmp_path / "expand.jinja").write_text(EXPAND)
    (tmp_path / "README.md").write_text("# Our support prompts\nexpand.jinja sets the tone.\n")
    (tmp_path / "notes.txt").write_text("try a shorter skeleton prompt\n")
    (tmp_path / "expand.md").write_text("why expand.jinja says what it says\n")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00")
    (tmp_path / "._expand.jinja").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")  # macOS's AppleDouble
    (tmp_path / "expand.jinja.bak").write_text("{% block user %}an old version{% endblock %}")
    (tmp_path / "old").mkdir()
    prompt = Templates(tmp_path).render("expand", question="How can I sleep better?", points=[],
                                        point={"index": 1, "title": "Keep a schedule"})
    assert prompt.user == "EXPAND-CUSTOM Keep a schedule for How can I sleep better?"


def test_every_module_compiles_without_an_invalid_escape_warning():
    # this module's docstring held "\s": Python 3.12+ printed a SyntaxWarning (3.11: a DeprecationWarning) on import
    import warnings

    root = Path(__file__).parent.parent
    for path in sorted([*(root / "sotkit").rglob("*.py"), *(root / "engines").rglob("*.py")]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compile(path.read_text(encoding="utf-8"), str(path), "exec")


@pytest.mark.parametrize("user, message", [
    ("{{ question }}: {{ point.title.strip }}", "writes a method or function"),
    ("{{ question }}{% for p in point %}{{ p.index }}. {{ p.title }}{% endfor %}", "writes a method or function"),
    ("{{ question }} {{ point }}", "writes a dict as Python shows it"),
    ("{{ question }} {{ point.title }}, after {{ points }}", "writes a list as Python shows it"),
])
def test_an_expand_template_that_writes_a_python_repr_is_refused_when_the_client_is_built(user, message):
    # probe 305: `point` (a typo for `points`) looped over the dict's keys, and each key's .index was a method
    with pytest.raises(sotkit.TemplateError, match=re.escape(message)):
        sotkit.SoT("openai:gpt-4o-mini", api_key="k", templates={"expand": f"{{% block user %}}{user}{{% endblock %}}"})
    written = Templates({"expand": "{% block user %}{{ question.strip() }} {{ point.index }} of {{ points|length }}: "
                                   "{{ point.title }}, {{ 0.5 }}{% endblock %}"})
    assert written.render("expand", question=" Why? ", context=None, points=[{"index": 1, "title": "A"}],
                          point={"index": 1, "title": "A"}).user == "Why? 1 of 1: A, 0.5"
