"""Markdown escaping of user text (ui.text)."""

from __future__ import annotations

from ui.text import md_escape


def test_md_escape_neutralises_images_links_and_emphasis() -> None:
    assert md_escape("![x](http://h/p.png)") == r"\!\[x\]\(http\://h/p\.png\)"
    assert md_escape("**bold** _it_ <b>") == r"\*\*bold\*\* \_it\_ \<b\>"
    assert md_escape("train_rows 1,000") == r"train\_rows 1,000"
