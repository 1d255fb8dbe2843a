"""textDocument/codeAction and codeAction/resolve: AI edits for clients without custom UI.

Listing actions is cheap; the model runs only in ``codeAction/resolve`` (or, for
clients that cannot resolve edits, in the ``aicockpit.applyAction`` command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from lsprotocol import types

from aicockpit.context.positions import Position
from aicockpit.edit.service import EditProposal
from aicockpit.edit.targets import block_after, enclosing_definition, find_instruction
from aicockpit.features.chat import EXPLAIN
from aicockpit.features.edit import apply, lines_written, run_guarded, to_workspace_edit, where
from aicockpit.features.next_edit import code_action_now as next_edit_action
from aicockpit.features.params import LspInt, decode, decode_args
from aicockpit.features.progress import WorkDone

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

APPLY_ACTION = "aicockpit.applyAction"
KIND_INSTRUCTION = types.CodeActionKind.RefactorRewrite + ".aicockpit"
# LSP 3.18: every action here is a model's work, so editors that mark machine-written fixes can.
AI_TAGS = [types.CodeActionTag.LlmGenerated]


class ActionData(msgspec.Struct):
    action: str  # instruction | fix | docstring
    uri: str
    version: int
    first: LspInt
    last: LspInt
    instruction: str = ""
    drop_line: LspInt | None = None
    problem: str = ""


PlannedAction = tuple[str, types.CodeActionKind | str, ActionData, list[types.Diagnostic]]


def plan(app: App, params: types.CodeActionParams) -> list[PlannedAction]:
    """(title, kind, data, diagnostics) for each action that applies here."""
    uri = params.text_document.uri
    doc = app.documents.get(uri)
    lines = doc.text.split("\n")
    first, last = params.range.start.line, params.range.end.line
    if last > first and params.range.end.character == 0:
        last -= 1
    out: list[PlannedAction] = []
    found = find_instruction(lines, doc.language_id, first, last)
    if found is not None:
        if last > first and first <= found.line <= last:  # a selection holding the comment
            target: tuple[int, int] | None = (first, last)
        else:
            block = block_after(lines, found.line)
            target = (found.line, block[1]) if block else None
        if target is not None:
            data = ActionData("instruction", uri, doc.version, target[0], target[1], found.text, found.line)
            out.append((f"Apply AI instruction: {found.text[:60]}", KIND_INSTRUCTION, data, []))
    for diagnostic in params.context.diagnostics:
        start, end = diagnostic.range.start.line, diagnostic.range.end.line
        code = f" [{diagnostic.code}]" if diagnostic.code is not None else ""
        problem = f"{diagnostic.message}{code} (line {start + 1})"
        data = ActionData("fix", uri, doc.version, start, end, "Fix the reported problem.", None, problem)
        out.append(
            (f"Fix with AI: {diagnostic.message[:60]}", types.CodeActionKind.QuickFix, data, [diagnostic])
        )
    definition = enclosing_definition(lines, first)
    if definition is not None:
        noun = "docstring" if doc.language_id == "python" else "doc comment"
        data = ActionData("docstring", uri, doc.version, definition[0], definition[1])
        out.append((f"Add {noun} with AI", types.CodeActionKind.RefactorRewrite, data, []))
    return out


def setup(server: AicockpitServer, app: App) -> None:
    def can_resolve_edits() -> bool:
        caps = server.client_capabilities.text_document
        support = caps.code_action.resolve_support if caps and caps.code_action else None
        return bool(support and "edit" in support.properties)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite],
            resolve_provider=True,
        ),
    )
    async def code_action(params: types.CodeActionParams) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        if uri not in app.documents or app.is_secret(app.documents.get(uri)):
            return []  # nothing offered in a secrets file: its text never goes to a model
        # Editors ask for code actions as the cursor moves (VS Code's light bulb): where it is.
        end = params.range.end
        app.prewarmer.cursor_seen(uri, Position(end.line, end.character))
        actions = []
        at = params.range.start
        suggested = await next_edit_action(app, uri, Position(at.line, at.character))
        if suggested is not None:
            actions.append(suggested)
        for title, kind, data, diagnostics in plan(app, params):
            payload = msgspec.to_builtins(data)
            action = types.CodeAction(title=title, kind=kind, diagnostics=diagnostics or None)
            if can_resolve_edits():
                action.data = payload
            else:
                action.command = types.Command(title=title, command=APPLY_ACTION, arguments=[payload])
            actions.append(action)
        first, last = params.range.start.line, params.range.end.line
        explain_args = {"uri": uri, "first": first, "last": last}
        actions.append(
            types.CodeAction(
                title="Explain this code with AI",
                kind=types.CodeActionKind.Empty,
                command=types.Command(title="Explain this code", command=EXPLAIN, arguments=[explain_args]),
            )
        )
        for action in actions:
            action.tags = AI_TAGS
        return actions

    async def compute(data: ActionData) -> EditProposal:
        """The action's edit, with progress (the model runs here) that cancels it."""
        title = {
            "docstring": "writing documentation",
            "fix": "fixing the problem",
            "instruction": "applying the instruction",
        }.get(data.action, "editing")
        message = f"{where(data.uri, data.first, data.last)}: asking the model"
        async with WorkDone(server, f"aicockpit: {title}", message=message) as work:
            on_delta = lines_written(work)
            if data.action == "docstring":
                return await run_guarded(app.edits.docstring(data.uri, data.first, data.version, on_delta))
            drop = [data.drop_line] if data.drop_line is not None else []
            problems = [data.problem] if data.problem else []
            return await run_guarded(
                app.edits.rewrite(
                    data.uri,
                    data.first,
                    data.last,
                    data.instruction,
                    data.version,
                    drop_lines=drop,
                    problems=problems,
                    on_delta=on_delta,
                )
            )

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(action: types.CodeAction) -> types.CodeAction:
        if action.data is None and action.command is not None:
            # Nothing to resolve: an action that runs a command (Neovim resolves every action
            # without an edit, the aicockpit.applyAction ones too, before running its command).
            return action
        data = decode(action.data, ActionData, "code action data (not one of aicockpit's)")
        proposal = await compute(data)
        action.edit = to_workspace_edit(server, app, proposal)
        action.tags = AI_TAGS  # whatever the client sent back
        return action

    @server.command(APPLY_ACTION)
    async def apply_action(*args: Any) -> dict[str, Any]:
        data = decode_args(args, ActionData)
        proposal = await compute(data)
        return await run_guarded(apply(server, app, proposal))
