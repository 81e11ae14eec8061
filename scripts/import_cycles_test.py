#!/usr/bin/env python3
"""Tests of import_cycles.py on small made-up crates: `python3 scripts/import_cycles_test.py`."""

import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "import_cycles.py")


def run(files, limit):
    with tempfile.TemporaryDirectory() as src:
        for path, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(src, path)), exist_ok=True)
            with open(os.path.join(src, path), "w", encoding="utf-8") as f:
                f.write(text)
        out = subprocess.run(
            [sys.executable, SCRIPT, src, str(limit)], capture_output=True, text=True
        )
        return out.returncode, out.stdout


class ImportCycles(unittest.TestCase):
    def test_use_super_and_expression_paths_form_a_cycle(self):
        code, out = run(
            {
                "lib.rs": "mod a;\nmod b;\n",
                "a/mod.rs": "mod inner;\nuse crate::b::{x, y::z};\n",
                "a/inner.rs": "fn f() { super::g(); }\n",
                "b.rs": "fn h() { crate::a::inner::k(); }\n",
            },
            2,
        )
        self.assertEqual(code, 1, out)
        self.assertIn("3 files", out)

    def test_comments_strings_tests_and_extern_crates_are_not_edges(self):
        code, out = run(
            {
                "lib.rs": "mod a;\nmod b;\n",
                "a.rs": "use crate::b::f;\n",
                "b.rs": '// crate::a::x\nconst S: &str = "crate::a::y";\nuse std::a;\n'
                "#[cfg(test)]\nmod tests { use crate::a::f; }\n",
            },
            1,
        )
        self.assertEqual(code, 0, out)
        self.assertIn("1 files", out)


if __name__ == "__main__":
    unittest.main()
