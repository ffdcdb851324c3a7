"""Assemble the pull-request comment: the quality report, `dvc metrics diff`, `dvc params diff`.

    python .ci/pr_comment.py --base origin/main [--out comment.md] [--artifact-url URL]

Run in a repository whose workspace holds the PR's build (`dvc repro` done) and where ``--base``
names the base branch's commit (its committed dvc.lock, params.yaml and reports/metrics.json).
Figures stay private: image links are replaced by a pointer to the workflow's artifact, and
nothing is uploaded anywhere. The comment is cut to GitHub's size limit.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

LIMIT = 65_000  # GitHub refuses comments over 65,536 characters
IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]+)\)")
MARKER = "<!-- landmark-datasets-report -->"


def dvc(*args: str) -> str:
    """Output of a dvc command (with the same interpreter); its error text if it fails."""
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"_`dvc {' '.join(args)}` failed: {proc.stderr.strip()[-500:]}_\n"
    return proc.stdout.strip() + "\n" if proc.stdout.strip() else "_no changes_\n"


def private_figures(markdown: str, artifact_url: str | None) -> str:
    """Replace each image with a note: figures are in the build artifact, not uploaded."""
    where = f"[the build artifact]({artifact_url})" if artifact_url else "the build artifact"
    return IMAGE.sub(lambda m: f"_(figure: {m.group(1)}, `{m.group(2)}` in {where})_", markdown)


def assemble(base: str, report: Path, artifact_url: str | None = None) -> str:
    """The whole comment text."""
    text = private_figures(report.read_text(), artifact_url)
    text = text.replace("# Data-quality report", "### Data-quality report", 1)
    body = (f"{MARKER}\n## landmark-datasets build\n\n"
            f"### Metrics (`dvc metrics diff {base}`)\n\n{dvc('metrics', 'diff', base, '--md')}\n"
            f"### Parameters (`dvc params diff {base}`)\n\n{dvc('params', 'diff', base, '--md')}\n"
            f"<details><summary>Quality report</summary>\n\n{text}\n</details>\n")
    if len(body) > LIMIT:
        body = body[:LIMIT - 200] + "\n\n_(cut: the full report is in the build artifact)_\n" \
            "</details>\n"
    return body


def main() -> None:
    """Command line: write the comment to ``--out`` (standard output by default)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the base branch's commit or ref")
    parser.add_argument("--report", default="reports/quality.md")
    parser.add_argument("--artifact-url")
    parser.add_argument("--out", default="-")
    args = parser.parse_args()
    body = assemble(args.base, Path(args.report), args.artifact_url)
    if args.out == "-":
        sys.stdout.write(body)
    else:
        Path(args.out).write_text(body)


if __name__ == "__main__":
    main()
