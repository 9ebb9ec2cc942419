"""Read a knowledge-base folder of Markdown, HTML and text files into section-sized passages.

* Markdown (``.md``, ``.markdown``) is parsed with markdown-it-py (CommonMark plus tables); every heading
  starts a section, and the text of paragraphs, list items, table rows, quotes and code blocks is kept
  without its markup (``**bold**`` becomes ``bold``); a table row becomes a sentence (:func:`render_row`).
  A paragraph's legal-style number ("2.1 ") is dropped (a quoted answer reads without it).
* HTML (``.html``, ``.htm``) is parsed with selectolax (lexbor); ``script``, ``style``, ``nav``,
  ``noscript``, ``template``, ``svg``, ``iframe`` and ``footer`` elements are dropped with everything inside
  them (site chrome, not content), every ``h1``-``h6`` starts a section, and block elements (paragraphs,
  list items, table rows, the loose text of a ``div``, ...) give one text block each; a table row becomes a
  sentence (:func:`render_row`).
* Text (``.txt``): blocks are paragraphs separated by blank lines; a one-line paragraph of at most 80
  characters that does not end in sentence punctuation is a heading and starts a section. A FAQ paragraph
  (a ``Q:`` or ``Question:`` line, then an ``A:`` or ``Answer:`` line) is a section of its own: the question is
  its heading and the answer, without the ``A:``, its text. So is a plain FAQ entry (issue 10, item 4): a
  paragraph whose first line is a question ending in "?", its answer on the next lines or in the next paragraph.

The document title is the first level-1 heading (Markdown), the first ``h1`` or else the ``<title>`` (HTML), or the
first heading line (text); failing those, the file name. A section longer than :data:`MAX_PASSAGE_WORDS`
words is split between blocks. Hidden files and other extensions are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token
from selectolax.lexbor import LexborHTMLParser, LexborNode

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
TEXT_SUFFIXES = frozenset({".txt"})
SUFFIXES = MARKDOWN_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES
"""File name endings read from a knowledge-base folder (case-insensitive)."""

MAX_PASSAGE_WORDS = 220
"""A section longer than this (whitespace-separated words) is split into several passages between blocks.

About one screen of text: long enough to hold a heading's whole answer in the shipped example knowledge base
(its longest section has 95 words), short enough that BM25's length normalisation does not drown a
relevant paragraph in a long page."""

_DROPPED_HTML = ["script", "style", "nav", "noscript", "template", "svg", "iframe", "footer"]
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_HTML_BLOCKS = frozenset(
    {"p", "li", "tr", "dt", "dd", "pre", "blockquote", "figcaption", "caption", "summary", "address"}
)
_HTML_CONTAINERS = frozenset(
    {
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "aside",
        "ul",
        "ol",
        "dl",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "details",
        "figure",
        "form",
        "fieldset",
        "body",
    }
)
_HTML_LOOSE_TEXT = ("div", "section", "article", "main", "aside")
_HTML_SELECTOR = ", ".join([*sorted(_HEADINGS), *sorted(_HTML_BLOCKS), *_HTML_LOOSE_TEXT])
_WS = re.compile(r"\s+")
_SENTENCE_END = (".", "!", "?", ":", ";")


class KnowledgeBaseError(ValueError):
    """A knowledge-base folder or file that cannot be read; the message names the path."""


@dataclass(frozen=True)
class Passage:
    """One section of a knowledge-base file.

    Attributes:
        source: the file, relative to the knowledge-base folder, with ``/`` separators (e.g. ``pricing.md``).
        title: the document title.
        heading: the section heading; equal to ``title`` for the text before the first sub-heading.
        blocks: the section's text blocks (paragraphs, list items, table rows) in document order, each with
            whitespace collapsed to single spaces and without markup.
    """

    source: str
    title: str
    heading: str
    blocks: tuple[str, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        """The section's blocks joined by newlines."""
        return "\n".join(self.blocks)

    @property
    def label(self) -> str:
        """``title › heading``, or the title alone when the section is the document's opening."""
        return self.title if self.heading == self.title else f"{self.title} › {self.heading}"


@dataclass
class _Section:
    heading: str
    blocks: list[str] = field(default_factory=list)


_PARAGRAPH_NUMBER = re.compile(r"^(?:\d+\.)+\d*\s+(?=\S)|^\d+\.\d+(?:\.\d+)*\s+(?=\S)")


def _clean(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _unnumbered(block: str) -> str:
    """A paragraph without its legal-style number ("2.1 Customer data is ..." -> "Customer data is ...")."""
    return _PARAGRAPH_NUMBER.sub("", block)


def load_passages(kb_dir: Path) -> list[Passage]:
    """Read every Markdown, HTML and text file under ``kb_dir`` (recursively) into passages.

    Args:
        kb_dir: the knowledge-base folder.

    Returns:
        The passages of all files, ordered by file path then position in the file.

    Raises:
        KnowledgeBaseError: ``kb_dir`` is missing or not a folder, holds no readable file with text, or a
            file cannot be read or decoded as UTF-8 (the message names the file).
    """
    if not kb_dir.exists():
        raise KnowledgeBaseError(f"knowledge-base folder {kb_dir} does not exist")
    if not kb_dir.is_dir():
        raise KnowledgeBaseError(f"knowledge-base path {kb_dir} is not a folder")
    files = sorted(
        p
        for p in kb_dir.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(kb_dir).parts)
    )
    if not files:
        raise KnowledgeBaseError(
            f"knowledge-base folder {kb_dir} holds no {', '.join(sorted(SUFFIXES))} files"
        )
    passages: list[Passage] = []
    for path in files:
        passages.extend(load_file(path, kb_dir))
    if not passages:
        raise KnowledgeBaseError(f"knowledge-base folder {kb_dir} holds files but no text")
    return passages


def load_file(path: Path, kb_dir: Path) -> list[Passage]:
    """Read one knowledge-base file into passages.

    Args:
        path: the file (``.md``, ``.markdown``, ``.html``, ``.htm`` or ``.txt``).
        kb_dir: the knowledge-base folder ``path`` lies in; sources are relative to it.

    Returns:
        The file's passages in document order (empty for a file without text).

    Raises:
        KnowledgeBaseError: the file cannot be read, is not valid UTF-8, or has another extension.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KnowledgeBaseError(f"cannot read knowledge-base file {path}: {exc.strerror or exc}") from exc
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeBaseError(
            f"knowledge-base file {path} is not valid UTF-8 (byte {exc.start}): save it as UTF-8"
        ) from exc
    suffix = path.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        title, sections = _markdown_sections(content)
    elif suffix in HTML_SUFFIXES:
        title, sections = _html_sections(content)
    elif suffix in TEXT_SUFFIXES:
        title, sections = _text_sections(content)
    else:
        raise KnowledgeBaseError(f"knowledge-base file {path} has an unsupported type {suffix!r}")
    source = path.relative_to(kb_dir).as_posix()
    title = title or path.stem.replace("-", " ").replace("_", " ")
    passages: list[Passage] = []
    for section in sections:
        heading = section.heading or title
        for chunk in _split_long([_unnumbered(b) for b in section.blocks]):
            passages.append(Passage(source=source, title=title, heading=heading, blocks=tuple(chunk)))
    return passages


def _split_long(blocks: list[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    words = 0
    for block in blocks:
        n = len(block.split())
        if chunk and words + n > MAX_PASSAGE_WORDS:
            yield chunk
            chunk, words = [], 0
        chunk.append(block)
        words += n
    if chunk:
        yield chunk


_TRAILING_PUNCT = ".;:"


def _lower_first(header: str) -> str:
    """``Monthly price`` -> ``monthly price``; ``SSO`` and ``API calls`` keep their capitals."""
    if len(header) > 1 and header[1].islower():
        return header[0].lower() + header[1:]
    return header


def _verb(header: str) -> str:
    """``are`` after a plural header ("Channels"), else ``is``."""
    last = header.strip().split()[-1].lower() if header.strip() else ""
    return "are" if last.endswith("s") and not last.endswith(("ss", "us", "is")) else "is"


COLUMN_LABELS = frozenset(
    {
        "",
        "feature",
        "features",
        "plan feature",
        "plan features",
        "compare",
        "compare plans",
        "comparison",
        "capability",
        "capabilities",
        "what's included",
        "what you get",
        "included",
        "details",
        "option",
        "options",
    }
)
"""First header cells that say a table has its plans (or editions) as COLUMNS and features as rows: an empty
corner cell, or a word that names the rows ("Feature", "Compare plans"). Such a row is rendered by
:func:`render_column_row`."""

_NO_VALUE = frozenset({"-", "\u2013", "\u2014", "n/a", "\u2212"})


def is_column_table(header: list[str] | None) -> bool:
    """True when ``header`` is that of a table with plans as columns (:data:`COLUMN_LABELS`, 2+ columns)."""
    if header is None or len(header) < 3:
        return False
    return header[0].strip().rstrip(":").lower() in COLUMN_LABELS and all(h.strip() for h in header[1:])


def render_column_row(header: list[str], cells: list[str]) -> str:
    """One row of a table with plans as columns as a sentence: "The <row label> is <cell> for <column>, ...".

    Only the header's and the cells' words are used. Empty cells and dashes ("-", "—", "n/a") are left out.

    Example: header ``| Starter | Pro``, row ``Price per technician per month | $29 | $59`` -> "The price per
    technician per month is $29 for Starter and $59 for Pro."

    Args:
        header: the table's header cells (the first one is the corner: empty or a word such as "Feature").
        cells: the row's cells, whitespace collapsed; the first one names the feature.

    Returns:
        The row's text block (the cells joined by `` | `` when the row has no label or no value).
    """
    label = cells[0]
    parts = [
        f"{c} for {h.strip()}"
        for h, c in zip(header[1:], cells[1:], strict=False)
        if c and c.lower() not in _NO_VALUE
    ]
    if not label or not parts:
        return " | ".join(cells)
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"The {_lower_first(label)} {_verb(label)} {listed}."


def render_row(header: list[str] | None, cells: list[str]) -> str:
    """One table row as a sentence that reads on its own, made only of the header's and the cells' words.

    With a header: "For <subject>, the <header 2> is <cell 2>, ... and the <header n> is <cell n>." ("are"
    after a header whose last word is a plural in -s). The subject is the first cell, followed by the first
    header when that is one word the cell does not already contain (header "Plan", cell "Growth" -> "the
    Growth plan"; cell "Gold tier" under "Tier" -> "the Gold tier"). Empty cells are left out. Without a
    header (or when the row is the header itself, or has a single cell) the cells are joined by `` | ``.
    A table with plans as columns (:func:`is_column_table`) is read by :func:`render_column_row`.

    Example: header ``Plan | Monthly price | Invoices included per month``, row ``Growth | $1,200 | up to 1,000``
    -> "For the Growth plan, the monthly price is $1,200 and the invoices included per month is up to 1,000."

    Args:
        header: the table's header cells, or None.
        cells: the row's cells, whitespace collapsed.

    Returns:
        The row's text block.
    """
    cells = [c.rstrip(_TRAILING_PUNCT).strip() for c in cells]
    if header is None or len(cells) < 2 or cells == header:
        return " | ".join(cells)
    if is_column_table(header):
        return render_column_row(header, cells)
    subject = cells[0]
    first = header[0].strip() if header else ""
    if first and " " not in first:
        if first.lower() not in subject.lower():
            subject = f"the {subject} {first.lower()}"
        elif not subject.lower().startswith("the "):
            subject = f"the {subject}"
    parts = [
        f"the {_lower_first(h.strip())} {_verb(h)} {c}" if h.strip() else c
        for h, c in zip(header[1:], cells[1:], strict=False)
        if c
    ]
    if not parts or not subject:
        return " | ".join(cells)
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"For {subject}, {listed}."


# --- Markdown -------------------------------------------------------------------------------------------


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content if child.type != "html_inline" else "")
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return _clean("".join(parts))


def _markdown_sections(content: str) -> tuple[str, list[_Section]]:
    md = MarkdownIt("commonmark").enable("table")
    tokens = md.parse(content)
    title = ""
    sections: list[_Section] = [_Section(heading="")]
    row: list[str] | None = None
    header: list[str] | None = None
    in_head = False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            text = _inline_text(tokens[i + 1])
            if tok.tag == "h1" and not title:
                title = text
                sections[-1].heading = sections[-1].heading or text
            else:
                sections.append(_Section(heading=text))
            i += 3
            continue
        if tok.type == "table_open":
            header = None
        elif tok.type == "thead_open":
            in_head = True
        elif tok.type == "thead_close":
            in_head = False
        elif tok.type == "tr_open":
            row = []
        elif tok.type == "tr_close" and row is not None:
            if in_head:
                header = row
            elif any(row):
                sections[-1].blocks.append(render_row(header, row))
            row = None
        elif tok.type == "inline":
            text = _inline_text(tok)
            if row is not None:
                row.append(text)
            elif text:
                sections[-1].blocks.append(text)
        elif tok.type in ("fence", "code_block"):
            text = _clean(tok.content)
            if text:
                sections[-1].blocks.append(text)
        i += 1
    return title, [s for s in sections if s.blocks]


# --- HTML -----------------------------------------------------------------------------------------------


def _own_text(node: LexborNode) -> str:
    """Text of ``node`` and its inline descendants, leaving out nested blocks and headings."""
    parts: list[str] = []
    for child in node.iter(include_text=True):
        if child.is_text_node:
            parts.append(child.text_content or "")
        elif child.tag == "br":
            parts.append(" ")
        elif child.tag in _HTML_BLOCKS or child.tag in _HEADINGS or child.tag in _HTML_CONTAINERS:
            continue
        else:
            parts.append(_own_text(child))
    return "".join(parts)


def _html_sections(content: str) -> tuple[str, list[_Section]]:
    tree = LexborHTMLParser(content)
    tree.strip_tags(_DROPPED_HTML)
    head_title = tree.css_first("title")
    first_h1 = tree.css_first("h1")
    title = _clean(first_h1.text(deep=True)) if first_h1 is not None else ""
    if not title and head_title is not None:
        title = _clean(head_title.text())
    sections: list[_Section] = [_Section(heading="")]
    headers: dict[int, list[str]] = {}  # table node (mem_id) -> its header cells
    root = tree.body
    if root is None:
        return title, []
    for node in root.css(_HTML_SELECTOR):
        tag = node.tag
        if tag in _HEADINGS:
            text = _clean(node.text(deep=True))
            if not text:
                continue
            if tag == "h1" and not sections[-1].blocks and not sections[-1].heading:
                sections[-1].heading = text
            else:
                sections.append(_Section(heading=text))
        elif tag == "tr":
            cells = [_clean(cell.text(deep=True)) for cell in node.css("th, td")]
            table = _ancestor(node, "table")
            header = headers.get(table.mem_id) if table is not None else None
            if _is_header_row(node):
                if table is not None:
                    headers[table.mem_id] = cells
            elif any(cells):
                sections[-1].blocks.append(render_row(header, cells))
        elif node.parent is not None and _inside_row(node):
            continue
        else:
            text = _clean(_own_text(node))
            if text:
                sections[-1].blocks.append(text)
    return title, [s for s in sections if s.blocks]


def _ancestor(node: LexborNode, tag: str) -> LexborNode | None:
    parent = node.parent
    while parent is not None:
        if parent.tag == tag:
            return parent
        parent = parent.parent
    return None


def _is_header_row(row: LexborNode) -> bool:
    """A row in ``thead``, or a row of ``th`` cells only."""
    if _ancestor(row, "thead") is not None:
        return True
    cells = row.css("th, td")
    return bool(cells) and all(cell.tag == "th" for cell in cells)


def _inside_row(node: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag == "tr":
            return True
        parent = parent.parent
    return False


# --- Text -----------------------------------------------------------------------------------------------


def _is_text_heading(paragraph: str) -> bool:
    lines = paragraph.splitlines()
    return len(lines) == 1 and len(paragraph) <= 80 and not paragraph.rstrip().endswith(_SENTENCE_END)


_FAQ = re.compile(
    r"^\s*(?:Q|Question)\s*[:.]\s*(?P<q>.+?)\s*\n\s*(?:A|Answer)\s*[:.]\s*(?P<a>.+)$", re.S | re.I
)


MAX_FAQ_QUESTION = 200
"""Longest first line (characters) read as a FAQ question when it ends with "?" (:func:`_text_sections`)."""


def _question_line(line: str) -> bool:
    line = line.strip()
    return line.endswith("?") and len(line) <= MAX_FAQ_QUESTION


def _text_sections(content: str) -> tuple[str, list[_Section]]:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", content.replace("\r\n", "\n")) if p.strip()]
    title = ""
    sections: list[_Section] = [_Section(heading="")]
    for paragraph in paragraphs:
        faq = _FAQ.match(paragraph)
        if faq is not None:
            sections.append(_Section(heading=_clean(faq["q"]), blocks=[_clean(faq["a"])]))
            continue
        first, _, rest = paragraph.partition("\n")
        if _question_line(first) and title:
            # a plain FAQ: the question on its own line, its answer below it (same paragraph or the next)
            sections.append(_Section(heading=_clean(first)))
            if rest.strip():
                sections[-1].blocks.append(_clean(rest))
            continue
        if _is_text_heading(paragraph):
            text = _clean(paragraph)
            if not title:
                title = text
                sections[-1].heading = text
            else:
                sections.append(_Section(heading=text))
        else:
            sections[-1].blocks.append(_clean(paragraph))
    return title, [s for s in sections if s.blocks]
