"""Shared fixtures of the unit tests: the Python fixture workspace indexed, the tiny model's tokenizer."""

from __future__ import annotations

import pytest

from aicockpit.context.workspace_index import WorkspaceIndex
from aicockpit.engine.tokenizer import load_local_tokenizer
from tests.support import ROOT, tiny_model

PYTHON = ROOT / "fixtures" / "workspaces" / "python"


@pytest.fixture(scope="module")
def tokens():
    return load_local_tokenizer(str(tiny_model()))


@pytest.fixture(scope="module")
def index():
    index = WorkspaceIndex()
    index.add_folder(PYTHON, persist=False).build()
    yield index
    index.close()
