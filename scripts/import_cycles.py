#!/usr/bin/env python3
"""Largest import cycle among the modules of a Rust crate's `src/`.

Usage: scripts/import_cycles.py SRC_DIR MAX_FILES

Every `crate::a::b`, `super::x` and `self::x` path (in `use` items and in expressions, outside
comments and `#[cfg(test)]` modules) is an edge from its file to the file that defines the
longest matching module prefix. Grouped `use` trees (`use crate::a::{b, c::d}`) are expanded.
The strongly connected components of that graph are the import cycles; the largest is
printed, and the script exits 1 when it holds more than MAX_FILES files.
"""

import os
import re
import sys


def module_path(src, path):
    """`src/a/b.rs` and `src/a/b/mod.rs` -> ('a', 'b'); lib.rs -> ()."""
    rel = os.path.relpath(path, src)[: -len(".rs")].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


def strip(text):
    """Drops comments, string literals and `pub(super)`-style visibilities."""
    token = r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])'"
    text = re.sub(token, lambda m: '""' if m.group(0)[0] in "\"'" else " ", text, flags=re.S)
    return re.sub(r"\bpub\s*\([^)]*\)", "pub", text)


def split_inline(text):
    """Splits out inline `mod name { .. }` bodies: yields (name or None, text). Modules under
    a `cfg` that mentions `test` (unit tests, loom models) are dropped."""
    out, i = [], 0
    pattern = r"((?:#\[[^\]]*\]\s*)*)(?:pub\s*)?mod\s+(\w+)\s*\{"
    for m in re.finditer(pattern, text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
        if not re.search(r"cfg\([^\]]*\btest\b", m.group(1)):
            yield m.group(2), text[m.end() : j - 1]
    out.append(text[i:])
    yield None, "".join(out)


def expand(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = tree.strip()
    brace = tree.find("{")
    if brace < 0:
        return [tree]
    prefix, body = tree[:brace], tree[brace + 1 : tree.rindex("}")]
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    parts.append(cur)
    return [p for part in parts if part.strip() for p in expand(prefix + part.strip())]


def paths(text):
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        yield from expand(re.sub(r"\s+", "", m.group(1)))
    text = re.sub(r"\buse\s+[^;]+;", "", text)
    for m in re.finditer(r"\b(?:crate|super|self)(?:::\w+)+", text):
        yield m.group(0)


def resolve(path, here, is_mod, modules):
    segs = [s.split(" as ")[0] for s in path.split("::")]
    base = list(here)
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    elif segs[0] == "self":
        segs = segs[1:]
    elif segs[0] != "super" and tuple(base + segs[:1]) not in modules:
        return None  # an extern crate (`std::..`), not a child module
    while segs and segs[0] == "super":
        base, segs = base[:-1], segs[1:]
    full = base + [s for s in segs if s not in ("*", "self")]
    for n in range(len(full), -1, -1):
        if tuple(full[:n]) in modules:
            return tuple(full[:n])
    return None


def sccs(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, limit = sys.argv[1], int(sys.argv[2])
    files = {}
    for root, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(root, name)
                files[module_path(src, path)] = path
    graph = {m: set() for m in files}
    for mod, path in files.items():
        is_mod = os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs")
        with open(path, encoding="utf-8") as f:
            text = strip(f.read())
        for inline, body in split_inline(text):
            here, here_is_mod = (mod + (inline,), True) if inline else (mod, is_mod)
            if inline and not is_mod:
                here = mod[:-1] + (mod[-1], inline)
            for p in paths(body):
                target = resolve(p, here, here_is_mod, files)
                if target is not None and target != mod and target != ():
                    graph[mod].add(target)
    largest = max(sccs(graph), key=len)
    names = sorted(os.path.relpath(files[m], src) for m in largest)
    print(f"largest import cycle: {len(names)} files (limit {limit})")
    for name in names:
        print(f"  {name}")
    if len(names) > limit:
        sys.exit(1)


if __name__ == "__main__":
    main()
