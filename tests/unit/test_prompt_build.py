"""The one completion prompt builder, per backend format, within the model's context.

Every prompt here is counted with the tiny model's real tokenizer, the way the
engine will count it.
"""

from __future__ import annotations

import shutil
import time

import pytest

from aicockpit.config import decode_config
from aicockpit.context.documents import DocumentStore
from aicockpit.context.open_documents import follow
from aicockpit.context.workspace_index import WorkspaceIndex
from aicockpit.engine.offline import OfflineTarget
from aicockpit.generation import PromptFormat
from aicockpit.prompt.assemble import PromptAssembler
from tests.support import RUN_DIR
from tests.unit.conftest import PYTHON

CALL = (
    "from shop.pricing import loyalty_discount, vat\n"
    "from shop.models import Customer\n\n\n"
    "def price_for(customer: Customer, amount: int) -> int:\n"
    "    discounted = amount - loyalty_discount("
)
AFTER = "\n    return vat(discounted)\n"


class Tokens:
    """The tiny model's tokenizer without its special tokens: a model with no FIM or repository tokens."""

    def __init__(self, tokens):
        self._tokens = tokens

    def count(self, text):
        return self._tokens.count(text)

    def head(self, text, n):
        return self._tokens.head(text, n)

    def tail(self, text, n):
        return self._tokens.tail(text, n)

    def special_tokens(self):
        return set()


def build(index, tokens, text=CALL + AFTER, offset=None, name="cart.py", options=None, **form):
    config, problems = decode_config(options or {})
    assert not problems
    documents = DocumentStore()
    follow(documents, index)
    assembler = PromptAssembler(documents, index, lambda: config)
    doc = documents.open((PYTHON / name).as_uri(), "python", 1, text)
    target = OfflineTarget(tokens, PromptFormat(**form), "test")
    return assembler.build(doc, len(CALL) if offset is None else offset, target, ("\n",)), config


def test_a_fim_prompt_holds_the_repository_the_file_path_the_prefix_and_the_suffix(index, tokens):
    prompt, _ = build(index, tokens)
    text = prompt.text
    assert prompt.template == "qwen" and prompt.suffix is None
    order = [
        "<|repo_name|>python\n",
        "<|file_sep|>shop/pricing.py\ndef loyalty_discount(",
        "<|file_sep|>cart.py\n<|fim_prefix|>from shop.pricing import",
        "loyalty_discount(<|fim_suffix|>\n    return vat(discounted)\n<|fim_middle|>",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions) and text.endswith("<|fim_middle|>")


def test_the_file_path_is_there_without_any_snippet(index, tokens):
    prompt, _ = build(index, tokens, options={"context": {"enabled": False}})
    assert not prompt.pieces.snippets
    assert prompt.text.startswith("<|repo_name|>python\n<|file_sep|>cart.py\n<|fim_prefix|>from shop")


def test_a_suffix_field_api_gets_path_comments_and_the_code_after_the_cursor_apart(index, tokens):
    prompt, _ = build(index, tokens, suffix_field=True, max_stops=4)
    # The server wraps prompt and suffix in the model's FIM template: no FIM or repository
    # tokens of ours, the context as path comments before the file's own code.
    assert prompt.suffix == AFTER
    assert "<|" not in prompt.text
    assert prompt.text.index("# shop/pricing.py\ndef loyalty_discount(") < prompt.text.index(
        "# cart.py\nfrom shop"
    )
    assert prompt.text.endswith("loyalty_discount(")
    assert len(prompt.stop) <= 4 and prompt.stop[0] == "\n"


def test_a_suffix_field_is_never_empty_at_the_end_of_a_file(index, tokens):
    prompt, _ = build(index, tokens, text=CALL, suffix_field=True)
    assert prompt.suffix == "\n"  # Ollama skips the FIM template for an empty suffix


def test_a_model_without_fim_tokens_gets_path_comments_and_the_prefix_only(index, tokens):
    # Even a tokenizer with repository tokens: general models write prose after them.
    prompt, _ = build(index, tokens, template="prefix")
    assert prompt.template == "prefix" and prompt.suffix is None
    assert "<|" not in prompt.text and "return vat(discounted)" not in prompt.text
    assert prompt.text.startswith("# shop/")
    assert prompt.text.endswith("# cart.py\n" + CALL)
    # The suffix is still known, for post-processing to stop before it.
    assert prompt.pieces.suffix == AFTER


def test_a_prefix_only_prompt_never_ends_in_a_space_but_keeps_an_indentation(index, tokens):
    text = "def read_text(path):\n    with open(path) as f:\n        return \n"
    ended, _ = build(index, tokens, text=text, offset=text.index("return ") + 7, template="prefix")
    assert ended.text.endswith("        return")  # the model writes " f.read()" itself
    block = "def read_lines(path):\n    \n"
    indented, _ = build(index, tokens, text=block, offset=block.index("\n    ") + 5, template="prefix")
    assert indented.text.endswith("def read_lines(path):\n    ")


def test_without_fim_or_repository_tokens_detection_gives_path_comments_and_the_prefix(index, tokens):
    prompt, _ = build(index, Tokens(tokens))
    assert prompt.template == "prefix"
    assert prompt.text.startswith("# shop/") and prompt.text.endswith("# cart.py\n" + CALL)


@pytest.mark.parametrize("length", [256, 300, 512, 1024, 4096])
@pytest.mark.parametrize("form", [{}, {"suffix_field": True}, {"template": "prefix"}])
def test_every_prompt_fits_the_models_context_with_room_for_the_answer(index, tokens, length, form):
    big = "".join(f"def helper_{i}(value):\n    return loyalty_discount(value, {i})\n\n" for i in range(300))
    text = CALL.replace("\n\n\ndef", "\n\n\n" + big + "def") + AFTER + big
    offset = text.index("loyalty_discount(\n") + len("loyalty_discount(")
    prompt, config = build(index, tokens, text=text, offset=offset, context_length=length, **form)
    sent = tokens.count(prompt.text) + tokens.count(prompt.suffix or "")
    assert sent + prompt.budgets.max_tokens <= length
    assert prompt.pieces.prefix.endswith("loyalty_discount(")  # the cursor's own line survives


def test_a_definition_larger_than_the_whole_budget_is_left_out_not_cut_into_the_prompt(tmp_path, tokens):
    (tmp_path / "huge.py").write_text(
        "def enormous(x):\n"
        + "".join(f"    x = x + {i}  # step {i}\n" for i in range(400))
        + "    return x\n"
    )
    index = WorkspaceIndex()
    index.add_folder(tmp_path, persist=False).build()
    text = "from huge import enormous\n\nvalue = enormous("
    config, _ = decode_config({"context": {"budget_tokens": 40}})
    documents = DocumentStore()
    follow(documents, index)
    assembler = PromptAssembler(documents, index, lambda: config)
    doc = documents.open((tmp_path / "use.py").as_uri(), "python", 1, text)
    prompt = assembler.build(doc, len(text), OfflineTarget(tokens, PromptFormat(), "t"))
    assert sum(prompt.pieces.snippet_tokens) <= 40 and "step 399" not in prompt.text
    index.close()


def test_a_snippet_from_a_deleted_file_is_not_sent(tokens):
    folder = RUN_DIR / "deleted-workspace"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "rates.py").write_text("def special_rate(kind):\n    return 0.25\n")
    index = WorkspaceIndex()
    index.add_folder(folder, persist=False).build()
    text = "from lib.rates import special_rate\n\nrate = special_rate("
    prompt, _ = _build_in(index, folder, tokens, text)
    assert "def special_rate(kind)" in prompt.text
    (folder / "lib" / "rates.py").unlink()  # before any watcher has told the index
    prompt, _ = _build_in(index, folder, tokens, text)
    assert "special_rate(kind)" not in prompt.text
    index.close()


def _build_in(index, folder, tokens, text):
    config, _ = decode_config({})
    documents = DocumentStore()
    follow(documents, index)
    assembler = PromptAssembler(documents, index, lambda: config)
    doc = documents.open((folder / "app.py").as_uri(), "python", 1, text)
    return assembler.build(doc, len(text), OfflineTarget(tokens, PromptFormat(), "t")), config


def test_thousands_of_candidate_definitions_still_give_a_prompt_within_budget_and_time(tmp_path, tokens):
    for module in range(40):
        (tmp_path / f"mod{module}.py").write_text(
            "".join(f"def handle(x{i}):\n    return x{i} + {module}\n\n" for i in range(60))
        )
    index = WorkspaceIndex()
    index.add_folder(tmp_path, persist=False).build()
    text = "".join(f"from mod{m} import handle\n" for m in range(40)) + "\nresult = handle("
    config, _ = decode_config({})
    documents = DocumentStore()
    follow(documents, index)
    assembler = PromptAssembler(documents, index, lambda: config)
    doc = documents.open((tmp_path / "main.py").as_uri(), "python", 1, text)
    target = OfflineTarget(tokens, PromptFormat(), "t")
    assembler.build(doc, len(text), target)  # first build: the tokenizer's line cache fills
    started = time.perf_counter()
    prompt = assembler.build(doc, len(text), target)
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert sum(prompt.pieces.snippet_tokens) <= prompt.budgets.context
    assert prompt.pieces.snippets and elapsed_ms < 500  # generous: a shared, noisy machine
    index.close()
