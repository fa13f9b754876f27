"""bench/RESULTS.md is written by the scripts beside this one: each owns one block between its own markers
and replaces only that block, so sections written by other scripts (or by hand) stay as they are."""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_block(begin, end, block, heading=None):
    """Puts `block` (which starts with `begin` and ends with `end`) in RESULTS.md: in place of the previous
    block between the same markers, or at the end under `heading` the first time."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nEach section is written by the script it names.\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        lead = f"\n\n## {heading}\n\n" if heading else "\n\n"
        text = text.rstrip() + lead + block + "\n"
    RESULTS.write_text(text)
