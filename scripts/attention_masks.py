"""Draw questions/images/attention-masks.svg: the self-attention masks of BERT, GPT and UniLM's seq2seq.

Run `python scripts/attention_masks.py` after changing it; a test checks that the
committed SVG is what this script writes. The background is transparent: the card shows
through, and in night mode the card's CSS inverts the drawing (blue stays blue).
"""

from __future__ import annotations

from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "questions" / "images" / "attention-masks.svg"
TOKENS = ["x1", "x2", "x3", "y1", "y2", "y3"]
SOURCE = 3
CELL = 22
GAP = 56
LEFT = 34
TOP = 58


def bert(row: int, col: int) -> bool:
    return True


def gpt(row: int, col: int) -> bool:
    return col <= row


def seq2seq(row: int, col: int) -> bool:
    return col < SOURCE or (row >= SOURCE and col <= row)


PANELS = [("BERT (bidirectional)", bert), ("GPT (left-to-right)", gpt), ("UniLM seq2seq", seq2seq)]


def svg() -> str:
    size = CELL * len(TOKENS)
    width = LEFT + len(PANELS) * (size + GAP)
    height = TOP + size + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="11">',
        '<title>Self-attention masks: which tokens each row may attend to</title>',
    ]
    for p, (title, allowed) in enumerate(PANELS):
        x0 = LEFT + p * (size + GAP)
        out.append(f'<text x="{x0 + size / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold" fill="#1f2328">{title}</text>')
        for i, token in enumerate(TOKENS):
            out.append(f'<text x="{x0 + i * CELL + CELL / 2}" y="{TOP - 8}" text-anchor="middle" fill="#57606a">{token}</text>')
            out.append(f'<text x="{x0 - 6}" y="{TOP + i * CELL + CELL / 2 + 4}" text-anchor="end" fill="#57606a">{token}</text>')
            for j in range(len(TOKENS)):
                fill = "#0969da" if allowed(i, j) else "#d0d7de"
                out.append(
                    f'<rect x="{x0 + j * CELL}" y="{TOP + i * CELL}" width="{CELL - 2}" height="{CELL - 2}" fill="{fill}"/>'
                )
    out.append(
        f'<text x="{LEFT}" y="{height - 12}" fill="#1f2328">Row = query token, column = key token; '
        "blue = may attend. x: source segment, y: target segment.</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(svg(), encoding="utf-8", newline="\n")
    print(f"wrote {TARGET}")
