"""Import statements resolved to workspace files, where the language allows.

Python modules (absolute and relative, ``src/`` layouts), JS/TS relative paths,
Go packages under the go.mod module, Rust ``mod``/``use crate::``, Java
packages and C/C++ ``#include "..."``. Anything else (third-party packages,
system headers) resolves to nothing. Results are cached until the index changes.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from aicockpit.context import languages

if TYPE_CHECKING:
    from aicockpit.context.index import ProjectIndex

_JS_EXTENSIONS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".d.ts")
_PY_FROM = re.compile(r"from\s+(\.*)([\w.]*)\s+import\s+(.*)", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_]\w*")


class ImportResolver:
    def __init__(self, index: ProjectIndex) -> None:
        self._index = index
        self._cache: dict[str, tuple[str, ...]] = {}
        self._by_suffix: dict[str, list[str]] | None = None
        self._go_module: str | None | bool = False

    def invalidate(self) -> None:
        self._cache = {}
        self._by_suffix = None
        self._go_module = False

    def resolve(self, rel: str, texts: Iterable[str]) -> tuple[str, ...]:
        cached = self._cache.get(rel)
        if cached is None:
            found: list[str] = []
            for text in texts:
                for target in self._targets(rel, text):
                    if target != rel and target not in found:
                        found.append(target)
            cached = self._cache[rel] = tuple(found)
        return cached

    def _exists(self, rel: str) -> bool:
        return rel in self._index.files

    def _suffix(self, tail: str) -> list[str]:
        """Indexed files whose path ends with ``tail`` (a file name or a path suffix)."""
        if self._by_suffix is None:
            by_name: dict[str, list[str]] = {}
            for path in list(self._index.files):  # a copy: the crawl thread may be adding
                by_name.setdefault(path.rsplit("/", 1)[-1], []).append(path)
            self._by_suffix = by_name
        name = tail.rsplit("/", 1)[-1]
        return [p for p in self._by_suffix.get(name, ()) if p == tail or p.endswith("/" + tail)]

    def _targets(self, rel: str, text: str) -> list[str]:
        spec = languages.for_path(rel)  # also for an unsaved document, not in the file table
        name = spec.name if spec else None
        folder = posixpath.dirname(rel)
        if name == "python":
            return self._python(folder, text)
        if name in ("javascript", "typescript", "tsx"):
            return self._javascript(folder, text)
        if name == "go":
            return self._go(text)
        if name == "rust":
            return self._rust(rel, text)
        if name == "java":
            return self._suffix(text.replace(".", "/") + ".java")[:1]
        if name in ("c", "cpp"):
            local = posixpath.normpath(posixpath.join(folder, text))
            return [local] if self._exists(local) else self._suffix(text)[:1]
        return []

    def _python_module(self, folder: str, dots: str, module: str) -> list[str]:
        parts = [p for p in module.split(".") if p]
        if dots:
            base = folder
            for _ in range(len(dots) - 1):
                base = posixpath.dirname(base)
            roots = [base]
        else:
            roots = ["", "src", "lib"]
        for root in roots:
            stem = posixpath.join(root, *parts) if parts else root
            for candidate in (stem + ".py", stem + ".pyi", posixpath.join(stem, "__init__.py")):
                candidate = candidate.lstrip("/")
                if self._exists(candidate):
                    return [candidate]
        if not dots and parts:  # another source root (a monorepo's package folder)
            hits = self._suffix("/".join(parts) + ".py") or self._suffix("/".join(parts) + "/__init__.py")
            return hits[:1]
        return []

    def _python(self, folder: str, text: str) -> list[str]:
        match = _PY_FROM.match(text.strip())
        if not match:  # import a.b.c
            return self._python_module(folder, "", text.strip())
        dots, module, names = match.groups()
        found = self._python_module(folder, dots, module)
        # from pkg import mod: each name may be a module of its own.
        for word in _WORD.findall(names.split("#", 1)[0]):
            if word in ("as", "import"):
                continue
            sub = f"{module}.{word}" if module else word
            found += [t for t in self._python_module(folder, dots, sub) if t not in found]
        return found

    def _javascript(self, folder: str, spec: str) -> list[str]:
        if not spec.startswith("."):
            return []  # a package from node_modules
        stem = posixpath.normpath(posixpath.join(folder, spec))
        if self._exists(stem):
            return [stem]
        for ext in _JS_EXTENSIONS:
            if self._exists(stem + ext):
                return [stem + ext]
            index = posixpath.join(stem, "index" + ext)
            if self._exists(index):
                return [index]
        base, ext = posixpath.splitext(stem)  # "./x.js" written for a TypeScript source
        return [base + e for e in _JS_EXTENSIONS if ext and self._exists(base + e)][:1]

    def _go(self, text: str) -> list[str]:
        path = text.strip('"`')
        if self._go_module is False:
            self._go_module = None
            try:
                for line in self._index.resolve_path("go.mod").read_text("utf-8", "replace").split("\n"):
                    if line.startswith("module "):
                        self._go_module = line.split()[1]
                        break
            except (OSError, ValueError):
                pass
        module = self._go_module
        if not isinstance(module, str) or not (path == module or path.startswith(module + "/")):
            return []
        folder = path[len(module) :].strip("/")
        return sorted(
            f
            for f in list(self._index.files)
            if posixpath.dirname(f) == folder and f.endswith(".go") and not f.endswith("_test.go")
        )

    def _rust(self, rel: str, text: str) -> list[str]:
        folder = posixpath.dirname(rel)
        stem = posixpath.splitext(posixpath.basename(rel))[0]
        if "::" not in text and _WORD.fullmatch(text):  # mod foo;
            base = folder if stem in ("mod", "lib", "main") else posixpath.join(folder, stem)
            for candidate in (f"{base}/{text}.rs", f"{base}/{text}/mod.rs"):
                candidate = candidate.lstrip("/")
                if self._exists(candidate):
                    return [candidate]
            return []
        parts = [p for p in re.split(r"::|\{|\}|,|\s", text) if p]
        if not parts or parts[0] not in ("crate", "super", "self"):
            return []
        if parts[0] == "crate":
            src = rel.split("/src/", 1)[0] + "/src" if "/src/" in rel else "src"
            base, rest = src, parts[1:]
        else:
            base = folder if parts[0] == "self" or stem in ("mod", "lib", "main") else folder
            base = posixpath.dirname(base) if parts[0] == "super" else base
            rest = parts[1:]
        for end in range(len(rest), 0, -1):
            stem_path = posixpath.join(base, *rest[:end])
            for candidate in (stem_path + ".rs", stem_path + "/mod.rs"):
                if self._exists(candidate):
                    return [candidate]
        return []
