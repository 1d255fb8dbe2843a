from aicockpit.prompt.fim import ANCHOR_LINES, FIM_TEMPLATES, detect_template, fim_window


class WordTokens:
    """One token per whitespace-separated word: enough to test budgets."""

    def count(self, text):
        return len(text.split())

    def head(self, text, tokens):
        return " ".join(text.split()[:tokens])

    def tail(self, text, tokens):
        return " ".join(text.split()[-tokens:]) if tokens else ""

    def special_tokens(self):
        return set()


def test_detects_each_family_from_its_special_tokens():
    assert detect_template({"<|fim_prefix|>", "<|endoftext|>"}).name == "qwen"
    assert detect_template({"<fim_prefix>"}).name == "starcoder"
    assert detect_template({"<｜fim▁begin｜>"}).name == "deepseek"
    assert detect_template({"▁<PRE>"}).name == "codellama"
    assert detect_template(set(), "starcoder").name == "starcoder"
    # No FIM tokens (a general instruct model): the prefix-only template, which sends no suffix.
    prefix_only = detect_template({"<s>", "<repo_name>"})
    assert prefix_only.name == "prefix" and not prefix_only.fills_middle
    assert prefix_only.render("a", "b") == "a"


def test_qwen_layout():
    assert FIM_TEMPLATES["qwen"].render("a", "b") == "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>"


def test_window_fits_budgets_and_keeps_whole_lines():
    text = "".join(f"w{i} x\n" for i in range(200))
    offset = text.index("w150 x")
    before, after = fim_window(text, offset, WordTokens(), 40, 10)
    assert WordTokens().count(before) <= 40 and WordTokens().count(after) <= 10
    assert before.startswith("w") and text[:offset].endswith(before)
    assert after.startswith("w150 x") and after.endswith("\n")


def test_prefix_start_is_anchored_while_typing():
    text = "".join(f"w{i}\n" for i in range(300))
    starts = set()
    for line in range(200, 200 + ANCHOR_LINES // 2):
        offset = text.index(f"w{line}\n")
        before, _ = fim_window(text, offset, WordTokens(), 100, 0)
        starts.add(offset - len(before))
    assert len(starts) == 1  # the same start, so the engine's cached prefix stays valid


def test_one_huge_line_is_cut_to_its_end():
    text = "x " * 10_000
    before, after = fim_window(text, len(text) // 2, WordTokens(), 50, 5)
    assert WordTokens().count(before) <= 50 and WordTokens().count(after) <= 5


def test_the_documents_line_starts_give_the_same_window_as_a_scan():
    from aicockpit.context.positions import LineIndex

    text = "".join(f"{'    ' * (i % 3)}w{i} = f(x{i})\n" for i in range(400)) + "tail"
    starts = LineIndex(text).starts
    for offset in range(0, len(text) + 1, 37):
        for budget in (0, 3, 40, 500, 5000):
            scanned = fim_window(text, offset, WordTokens(), budget, 5)
            assert fim_window(text, offset, WordTokens(), budget, 5, starts) == scanned
