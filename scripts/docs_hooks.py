"""MkDocs hooks (``hooks:`` in mkdocs.yml): the pages of the site that live outside docs/.

The READMEs become pages (``README.md`` the home page, ``hw_specs/README.md`` and
``model_specs/README.md`` the spec references) and the executed notebooks of notebooks/ become
pages rendered by mkdocs-jupyter, all read where they are, so nothing is copied into docs/. Links
are written for a reader of the repository (``docs/llm.md``, ``../model_specs/README.md``); each
is rewritten to the page that shows the same file on the site, and a link to a file the site does
not show (a YAML preset, a JSON run) becomes the file's path in code, so that the strict build
finds no broken link.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
#: site page -> the repository file it shows
PAGES = {
    "index.md": "README.md",
    "hw_specs.md": "hw_specs/README.md",
    "model_specs.md": "model_specs/README.md",
}
#: repository file -> its page on the site (docs/X is X; notebooks/X is notebooks/X)
SITE = {src: page for page, src in PAGES.items()}
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
#: a Sphinx role before a code span, as the docstrings write cross-references (:func:`x`)
ROLE = re.compile(r":(?:py:)?(?:func|mod|class|meth|data|attr|obj|exc):(<code>)~?")


def site_path(repo_path: str) -> str | None:
    """The site page or file that shows ``repo_path``, or None when the site does not."""
    if repo_path in SITE:
        return SITE[repo_path]
    if repo_path.startswith("docs/"):
        return repo_path[len("docs/") :]
    if repo_path.startswith("notebooks/") and repo_path.endswith(".ipynb"):
        return repo_path
    return None


def rewrite(markdown: str, repo_file: str, page: str) -> str:
    """``markdown`` of ``repo_file`` (a repository path), shown as site page ``page``, with every
    relative link pointing at the site's copy of its target."""

    def one(m: re.Match[str]) -> str:
        bang, text, target = m.groups()
        if re.match(r"^[a-z]+:|^#", target):
            return m.group(0)  # a URL or an anchor on the same page
        path, _, anchor = target.partition("#")
        repo = posixpath.normpath(posixpath.join(posixpath.dirname(repo_file), path))
        shown = site_path(repo)
        if shown is None:
            return f"{text} (`{repo}` in the repository)" if not bang else f"`{repo}`"
        rel = posixpath.relpath(shown, posixpath.dirname(page) or ".")
        return f"{bang}[{text}]({rel}{'#' + anchor if anchor else ''})"

    return LINK.sub(one, markdown)


@event_priority(100)  # before mkdocs-jupyter's on_files turns the notebooks into pages
def on_files(files: Files, config: Any) -> Files:
    """Add the README pages and the notebooks to the site."""
    for page, src in PAGES.items():
        text = (ROOT / src).read_text(encoding="utf-8")
        files.append(File.generated(config, page, content=rewrite(text, src, page)))
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        # a File read from the repository root, not File.generated: mkdocs-jupyter's wrapper
        # finds a generated file's path through src_dir, which a generated file lacks
        files.append(
            File(
                f"notebooks/{nb.name}",
                src_dir=str(ROOT),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Rewrite the links of the pages of docs/ (the generated ones were rewritten above)."""
    uri = page.file.src_uri
    if uri in PAGES or not uri.endswith(".md"):
        return markdown
    return rewrite(markdown, f"docs/{uri}", uri)


def on_page_content(html: str, page: Any, config: Any, files: Files) -> str:
    """Drop the Sphinx roles of the docstrings' cross-references (``:func:`x``` reads ``x``)."""
    return ROLE.sub(r"\1", html)
