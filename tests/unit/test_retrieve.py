"""Retrieval at the cursor and the prompt layout, with the tiny model's real tokenizer."""

from __future__ import annotations

import pytest

from aicockpit.config import AicockpitConfig, decode_config
from aicockpit.context.documents import DocumentStore, TextChange
from aicockpit.context.open_documents import follow
from aicockpit.engine.offline import OfflineTarget
from aicockpit.generation import PromptFormat
from aicockpit.prompt.assemble import PromptAssembler
from aicockpit.prompt.layout import render_snippet
from tests.unit.conftest import PYTHON


def target(tokens, template: str = "qwen", **fields) -> OfflineTarget:
    """What the prompt is built for: the tiny model's tokenizer in a given format."""
    return OfflineTarget(tokens, PromptFormat(template=template, **fields), "test")


def assembler_for(index, options: dict | None = None):
    config, problems = decode_config(options or {})
    assert not problems
    documents = DocumentStore()
    follow(documents, index)
    return documents, PromptAssembler(documents, index, lambda: config)


NEW_MODULE = (
    "from shop.pricing import loyalty_discount, vat\n"
    "from shop.models import Customer\n\n\n"
    "def price_for(customer: Customer, amount: int) -> int:\n"
    "    discounted = amount - loyalty_discount(\n"
)


def open_module(documents, text=NEW_MODULE, name="report.py"):
    return documents.open((PYTHON / name).as_uri(), "python", 1, text)


def test_a_cross_file_definition_is_retrieved_through_the_imports(index, tokens):
    documents, assembler = assembler_for(index)
    doc = open_module(documents)
    built = assembler.build(doc, len(doc.text) - 1, target(tokens))
    chosen = {(s.path, s.reason) for s in built.pieces.snippets}
    assert ("shop/pricing.py", "definition of loyalty_discount") in chosen
    # An unsaved document's imports resolve too (it is indexed from the editor's text).
    assert {"shop/pricing.py", "shop/models.py"} <= set(index.imports_of(doc.path))
    assert ("shop/models.py", "definition of Customer") in chosen
    prompt = built.text
    assert "def loyalty_discount(customer: Customer, amount: int) -> int:" in prompt
    # Slowest-changing first: repository context, then the file, then the cursor's code.
    assert (
        prompt.index("<|repo_name|>python")
        < prompt.index("<|file_sep|>report.py")
        < prompt.index("<|fim_prefix|>")
    )


@pytest.mark.parametrize("budget", [0, 40, 120, 1024])
def test_the_context_fits_the_token_budget(index, tokens, budget):
    documents, assembler = assembler_for(index, {"context": {"budget_tokens": budget}})
    doc = open_module(documents)
    built = assembler.build(doc, len(doc.text) - 1, target(tokens))
    pieces = built.pieces
    rendered = "".join(render_snippet(s, assembler.code_format(target(tokens), doc)) for s in pieces.snippets)
    assert tokens.count(rendered) <= budget
    assert sum(pieces.snippet_tokens) <= budget
    if budget >= 120:
        assert pieces.snippets


def test_two_keystrokes_give_prompts_that_share_all_but_the_local_tail(index, tokens):
    documents, assembler = assembler_for(index)
    text = NEW_MODULE + "        customer, amount)\n    return discounted + \n"
    doc = open_module(documents, text)
    cursor = len(text) - 1
    first = assembler.build(doc, cursor, target(tokens)).text
    for step, ch in enumerate("vat"):
        at = doc.lines.position(cursor + step)
        documents.change(doc.uri, 2 + step, [TextChange(ch, at, at)])
    second = assembler.build(doc, cursor + 3, target(tokens)).text
    head = first.split("<|fim_suffix|>")[0]
    assert second.startswith(head), "everything up to the cursor must be byte-identical"
    assert second[len(head) :].startswith("vat<|fim_suffix|>")


def test_snippets_keep_their_order_when_new_ones_arrive(index, tokens):
    documents, assembler = assembler_for(index)
    doc = open_module(documents)
    first = [s.key for s in assembler.build(doc, len(doc.text) - 1, target(tokens)).pieces.snippets]
    end = doc.lines.position(len(doc.text))
    documents.change(
        doc.uri, 2, [TextChange("        customer, amount)\n    return vat(discounted)\n", end, end)]
    )
    second = [s.key for s in assembler.build(doc, len(doc.text) - 1, target(tokens)).pieces.snippets]
    kept = [key for key in second if key in first]
    assert kept == [key for key in first if key in second]  # old ones in their old order
    assert second[: len(kept)] == kept  # newcomers after them


def test_similar_code_and_recent_edits_come_from_other_open_documents(index, tokens):
    documents, assembler = assembler_for(index)
    documents.open(
        (PYTHON / "invoice.py").as_uri(),
        "python",
        1,
        "def invoice_total(customer, amount, discount_rate, shipping):\n"
        "    discounted = amount - amount * discount_rate\n"
        "    taxed = discounted + shipping\n    return taxed\n",
    )
    notes = documents.open((PYTHON / "notes.py").as_uri(), "python", 1, "LIMIT = 1\n")
    at = notes.lines.position(0)
    documents.change(notes.uri, 2, [TextChange("RATE = 0.5\n", at, at)])
    text = (
        "def quote(customer, amount, discount_rate, shipping):\n"
        "    discounted = amount - amount * discount_rate\n"
        "    taxed = discounted + shipping\n"
        "    \n"
    )
    doc = open_module(documents, text, "quote.py")
    pieces = assembler.build(doc, len(text) - 1, target(tokens)).pieces
    reasons = {(s.path, s.reason) for s in pieces.snippets}
    assert ("invoice.py", "similar code") in reasons
    assert ("notes.py", "recent edit") in reasons


def test_typing_along_one_line_does_not_push_other_recent_edits_out_of_the_prompt(index, tokens):
    documents, assembler = assembler_for(index)
    notes = documents.open((PYTHON / "notes.py").as_uri(), "python", 1, "LIMIT = 1\n")
    at = notes.lines.position(0)
    documents.change(notes.uri, 2, [TextChange("RATE = 0.5\n", at, at)])
    doc = open_module(documents, "def quote(amount):\n    return ", "quote.py")
    for version, char in enumerate("amount * 2 + amount // 3 - 1 " * 4, start=2):  # 120 keystrokes
        at = doc.lines.position(len(doc.text))
        documents.change(doc.uri, version, [TextChange(char, at, at)])
    prompt = assembler.build(doc, len(doc.text), target(tokens))
    assert ("notes.py", "recent edit") in {(s.path, s.reason) for s in prompt.pieces.snippets}
    assert "RATE = 0.5" in prompt.text  # what the engine is sent


def test_secrets_never_reach_a_prompt(index, tokens):
    documents, assembler = assembler_for(index)
    secret = documents.open((PYTHON / ".env").as_uri(), "plaintext", 1, "API_KEY=hunter2\n")
    assert assembler.build(secret, 3, target(tokens)) is None
    key = documents.open(
        (PYTHON / "deploy.pem").as_uri(), "python", 1, "def price_for(customer, amount):\n    hunter2 = 1\n"
    )
    at = key.lines.position(0)
    documents.change(key.uri, 2, [TextChange("# x\n", at, at)])
    doc = open_module(documents)
    prompt = assembler.build(doc, len(doc.text) - 1, target(tokens)).text
    assert "hunter2" not in prompt


def test_without_repository_tokens_the_context_is_path_comments_inside_the_prefix(index, tokens):
    documents, assembler = assembler_for(index)
    doc = open_module(documents)
    prompt = assembler.build(doc, len(doc.text) - 1, target(tokens, "deepseek")).text
    assert prompt.startswith("<｜fim▁begin｜># shop/")
    assert "# report.py\nfrom shop.pricing" in prompt


def test_a_long_file_keeps_its_header_before_the_prefix_window(index, tokens):
    documents, assembler = assembler_for(index, {"completion": {"prefix_tokens": 64}})
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(200))
    doc = open_module(documents, "import os\nimport sys\n\n" + body)
    pieces = assembler.build(doc, len(doc.text) - 2, target(tokens)).pieces
    assert pieces.header == "import os\nimport sys\n\n"
    assert not pieces.prefix.startswith("import os")


def test_an_edit_above_the_prefix_window_of_the_same_file_is_a_recent_edit(index, tokens):
    documents, assembler = assembler_for(index, {"completion": {"prefix_tokens": 64, "suffix_tokens": 16}})
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(120))
    doc = open_module(documents, body)
    at = doc.lines.position(doc.text.index("return x + 3"))
    documents.change(doc.uri, 2, [TextChange("limit = 7\n    ", at, at)])
    pieces = assembler.build(doc, len(doc.text) - 2, target(tokens)).pieces
    edits = [s for s in pieces.snippets if s.reason == "recent edit"]
    assert edits and edits[0].path == "report.py" and "limit = 7" in edits[0].text
    assert "limit = 7" not in pieces.prefix


def test_a_10_mb_one_line_file_open_or_edited_costs_no_huge_snippet(index, tokens):
    documents, assembler = assembler_for(index)
    minified = "var a=function(b){return b+1};" * (10 * 1024 * 1024 // 30)
    bundle = documents.open((PYTHON / "bundle.js").as_uri(), "javascript", 1, minified)
    at = bundle.lines.position(5_000_000)
    documents.change(bundle.uri, 2, [TextChange("x", at, at)])
    pieces = assembler.build(bundle, 5_000_000, target(tokens)).pieces
    assert pieces is not None and len(pieces.prefix) < 20_000 and len(pieces.suffix) < 5_000
    script = documents.open(
        (PYTHON / "page.js").as_uri(), "javascript", 1, "function b(a) {\n  return a\n}\n"
    )
    pieces = assembler.build(script, 20, target(tokens)).pieces
    assert all(len(s.text) < 2_000 for s in pieces.snippets)


def test_config_defaults():
    config = AicockpitConfig()
    assert config.context.budget_tokens is None  # sized to the latency target (prompt/budget.py)
    assert ".env" in config.index.secrets and "node_modules/" in config.index.exclude


def test_code_the_prompt_already_shows_is_not_repeated_as_context(index, tokens):
    documents, assembler = assembler_for(index)
    text = "def quote(customer, amount, rate, shipping):\n    net = amount - amount * rate\n    return net\n"
    documents.open((PYTHON / "copy.py").as_uri(), "python", 1, text)
    doc = open_module(
        documents, text + "\n\ndef again(customer, amount, rate, shipping):\n    \n", "quote.py"
    )
    pieces = assembler.build(doc, len(doc.text) - 1, target(tokens)).pieces
    assert not [s for s in pieces.snippets if s.path == "copy.py"]


def test_the_names_near_the_cursor_follow_edits_to_the_lines_around_it(index):
    from aicockpit.context.positions import Position
    from aicockpit.context.retrieve import CursorQuery

    documents, assembler = assembler_for(index)
    doc = open_module(
        documents, "def f(alpha_one, beta_two):\n    gamma_three = alpha_one(beta_two)\n    return gam"
    )

    def names() -> list[str]:
        line = doc.lines.line_count - 1
        query = CursorQuery(doc, "report.py", len(doc.text), line, (0, line))
        return [name for name, _ in assembler.retriever.names_near(query)]

    # The word being typed is no name yet; the call weighs more than the parameter.
    assert names() == ["alpha_one", "beta_two", "gamma_three"]
    documents.change(doc.uri, 2, [TextChange("delta_four = beta_two", Position(1, 4), Position(1, 37))])
    assert names() == ["beta_two", "delta_four", "alpha_one"]


def test_a_retrieval_cut_short_by_its_time_box_keeps_the_previous_choice_whole():
    """Else a snippet missing from the middle of the context makes the code after it new to the cache."""
    from aicockpit.context.retrieve import ContextSnippet
    from aicockpit.prompt.fim import FIM_TEMPLATES
    from aicockpit.prompt.layout import CodeFormat, SnippetLayout
    from tests.unit.test_scheduler import CharTokenizer

    form = CodeFormat(FIM_TEMPLATES["prefix"], None, "#")
    a, b, c = (
        ContextSnippet(f"{n}.py", 0, 1, f"def {n}(): pass\n", f"definition of {n}", 1.0) for n in "abc"
    )
    layout = SnippetLayout()
    assert layout.fit("u", [a, b, c], 500, CharTokenizer(), form)[0] == [a, b, c]
    assert layout.fit("u", [a, c], 500, CharTokenizer(), form, keep_previous=True)[0] == [a, b, c]
    assert layout.fit("u", [a, c], 500, CharTokenizer(), form)[0] == [a, c]  # a full retrieval decides


def test_the_document_being_typed_in_is_indexed_when_opened_and_again_once_the_user_moves_on(index):
    from aicockpit.context.documents import TextChange
    from aicockpit.context.positions import Position

    documents, _ = assembler_for(index)
    typed = open_module(documents, "def first_name():\n    pass\n", "typed.py")
    assert index.find_definitions("first_name")  # indexed from the editor's text at once
    end = Position(1, 8)
    documents.change(typed.uri, 2, [TextChange("\n\ndef second_name():\n    pass\n", end, end)])
    assert not index.find_definitions("second_name")  # not at every keystroke
    open_module(documents, "x = 1\n", "other.py")  # the user moves on to another document
    assert index.find_definitions("second_name")
