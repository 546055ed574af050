"""Printable paper questionnaire (HTML, A4) in Bulgarian.

:func:`write_paper` writes one self-contained HTML file that prints cleanly on
A4 from any browser: large type, the assent text and the assent question on the
first page, one domain per page (CSS page breaks), the free-text question and
the children's helpline 116 111 on the last page. For the youngest age version
(``--version 8-11``) the answers are shown with faces (inline SVG) under the
words, on every scale that allows faces (``faces: false`` in the codebook turns
them off, e.g. for "how many times" scales).

The faces show what an answer means for the child: on a reverse-keyed item
("I feel lonely") the smiling face is under "Never". They are an aid to reading
the words, never a replacement: the labels are always printed.

Everything taken from the codebook is escaped (:func:`html.escape`).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from research_lib.io.codebook import Codebook
from research_lib.io.form import (
    HELPLINE,
    Question,
    age_version,
    build_form,
    form_texts,
)

__all__ = ["paper_html", "write_paper", "face_svg"]

_CSS = """
@page { size: A4; margin: 14mm 15mm 16mm 15mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif; font-size: 14pt;
       line-height: 1.35; color: #111; margin: 0; }
.page { break-before: page; page-break-before: always; }
.page:first-of-type { break-before: auto; page-break-before: auto; }
h1 { font-size: 21pt; margin: 0 0 6mm; }
h2 { font-size: 19pt; margin: 0 0 3mm; border-bottom: 2px solid #444; padding-bottom: 1mm; }
p { margin: 0 0 3mm; }
.lead { font-size: 16pt; }
.recall { font-style: italic; margin-bottom: 4mm; }
.q { break-inside: avoid; page-break-inside: avoid; margin: 0 0 3mm; }
.q .text { font-weight: bold; margin-bottom: 1.5mm; }
.q .num { display: inline-block; min-width: 11mm; }
.options { display: flex; flex-wrap: nowrap; gap: 2mm 2mm; margin-left: 11mm; }
.opt { display: flex; flex-direction: column; align-items: center; text-align: center;
       width: 21mm; font-size: 11pt; line-height: 1.1; }
.opt .box { width: 7mm; height: 7mm; border: 2px solid #222; border-radius: 1.5mm;
            margin-bottom: 1mm; }
.opt svg { width: 11mm; height: 11mm; margin-bottom: 0.5mm; }
.opt.missing { color: #444; width: 21mm; }
.version { font-size: 15pt; margin: -4mm 0 5mm; }
.opt.missing .box { border-style: dashed; }
.sep { width: 0; border-left: 1px dotted #777; margin: 0 1mm; }
.hint { font-size: 12.5pt; color: #333; margin: 1mm 0 0 11mm; }
.spacer { height: 11.5mm; }
.researcher { border: 1.5px solid #555; padding: 3mm 4mm; margin-top: 6mm; font-size: 12.5pt; }
.researcher h3 { font-size: 13pt; margin: 0 0 2mm; }
.line { display: inline-block; border-bottom: 1px solid #222; min-width: 45mm; height: 6mm; }
.lines div { border-bottom: 1px solid #333; height: 11mm; }
.helpline { font-size: 20pt; font-weight: bold; border: 3px solid #222; border-radius: 4mm;
            padding: 4mm; text-align: center; margin-top: 8mm; }
.footer { font-size: 10pt; color: #555; margin-top: 4mm; }
"""


def face_svg(mood: float, label: str = "") -> str:
    """A simple face as inline SVG; ``mood`` from -1 (sad) to 1 (happy).

    >>> "<svg" in face_svg(1.0) and "<path" in face_svg(-1.0)
    True
    """
    mood = max(-1.0, min(1.0, float(mood)))
    curve = 60 + 14 * mood  # control point of the mouth: below the corners smiles
    corners = 60 - 4 * mood
    return (
        f'<svg viewBox="0 0 100 100" role="img" aria-label="{escape(label)}">'
        '<circle cx="50" cy="50" r="44" fill="none" stroke="#222" stroke-width="6"/>'
        '<circle cx="35" cy="40" r="6" fill="#222"/><circle cx="65" cy="40" r="6" fill="#222"/>'
        f'<path d="M30 {corners:.1f} Q50 {curve + 12 * mood:.1f} 70 {corners:.1f}" '
        'fill="none" stroke="#222" stroke-width="6" stroke-linecap="round"/></svg>'
    )


def _options(book: Codebook, question: Question, faces: bool) -> str:
    parts = []
    scale = book.scales[question.item.scale] if question.item is not None else None
    show_faces = faces and scale is not None and scale.faces
    answers = [c for c in question.choices if not c.missing]
    for position, choice in enumerate(answers):
        label = choice.label.get("bg") or choice.code
        face = ""
        if show_faces and len(answers) > 1:
            mood = -1 + 2 * position / (len(answers) - 1)
            face = face_svg(-mood if question.item.reverse else mood, label)
        parts.append(
            f'<div class="opt">{face}<div class="box"></div><div>{escape(label)}</div></div>'
        )
    missing = [c for c in question.choices if c.missing]
    spacer = '<div class="spacer"></div>' if show_faces else ""
    if missing:
        parts.append('<div class="sep"></div>')
    for choice in missing:
        label = choice.label.get("bg") or choice.code
        parts.append(
            f'<div class="opt missing">{spacer}<div class="box"></div><div>{escape(label)}</div></div>'
        )
    return f'<div class="options">{"".join(parts)}</div>'


def paper_html(
    book: Codebook,
    *,
    version: str | None = None,
    easy_read: bool = False,
    faces: bool | None = None,
) -> str:
    """The paper questionnaire as one HTML document.

    Parameters
    ----------
    book : Codebook
        The instrument.
    version : str, optional
        An age version id: only its items; faces when it is the youngest version.
    easy_read : bool
        Use the items' easy-read wording where the codebook has one.
    faces : bool, optional
        Force faces on (True) or off (False); default: faces for the youngest version.
    """
    chosen = age_version(book, version)
    if faces is None:
        youngest = min(book.age_versions, key=lambda v: v.min, default=None)
        faces = chosen is not None and youngest is not None and chosen.id == youngest.id
    texts = form_texts(book)
    sections = build_form(book, version=version, easy_read=easy_read)
    title = texts["title"].get("bg", book.instrument)
    recall = texts.get("recall", {}).get("bg")
    subtitle = f"Версия за {chosen.label.get('bg', chosen.id)}" if chosen is not None else ""
    out = [
        '<!DOCTYPE html><html lang="bg"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        '<section class="page">',
        f"<h1>{escape(title)}</h1>",
        f'<p class="version">{escape(subtitle)}</p>' if subtitle else "",
        f'<p class="lead">{escape(texts["intro"]["bg"])}</p>',
        f'<p class="lead">{escape(texts["voluntary"]["bg"])}</p>',
        '<div class="q"><div class="text">',
        f'{escape(texts["assent"]["bg"])}</div><div class="options">',
        f'<div class="opt"><div class="box"></div><div>{escape(texts["assent_yes"]["bg"])}</div></div>',
        f'<div class="opt"><div class="box"></div><div>{escape(texts["assent_no"]["bg"])}</div></div>',
        f'</div><div class="hint">{escape(texts["assent_no_paper"]["bg"])}</div></div>',
        '<div class="q"><div class="text">На колко години си? <span class="line"></span></div></div>',
        '<div class="q"><div class="text">Ти си:</div><div class="options">'
        '<div class="opt"><div class="box"></div><div>момиче</div></div>'
        '<div class="opt"><div class="box"></div><div>момче</div></div>'
        '<div class="opt missing"><div class="box"></div><div>Не искам да кажа</div></div>'
        "</div></div>",
        '<div class="researcher"><h3>Попълва изследователят</h3>',
        "<p>Код на анкетата: <span class='line'></span> &nbsp; Вълна: <span class='line'></span></p>",
        "<p>Код на услугата: <span class='line'></span> &nbsp; Област: <span class='line'></span></p>",
        "<p>Вид грижа: ☐ собствено семейство ☐ близки и роднини ☐ приемна грижа ☐ ЦНСТ ☐ институция</p>",
        "</div></section>",
    ]
    number = 0
    for section in sections:
        if section.domain is None:
            continue
        out.append('<section class="page">')
        out.append(f"<h2>{escape(section.label.get('bg', section.name))}</h2>")
        if section.intro:
            out.append(f"<p>{escape(section.intro.get('bg', ''))}</p>")
        if recall:
            out.append(f'<p class="recall">{escape(recall)}:</p>')
        for question in section.questions:
            if question.item is None:  # the domain's filter question
                out.append(
                    f'<div class="q"><div class="text">{escape(question.label.get("bg", ""))}</div>'
                    f"{_options(book, question, False)}"
                    f'<div class="hint">{escape(question.hint.get("bg", ""))}</div></div>'
                )
                continue
            number += 1
            out.append(
                f'<div class="q"><div class="text"><span class="num">{number}.</span>'
                f"{escape(question.label.get('bg', question.name))}</div>"
                f"{_options(book, question, faces)}</div>"
            )
        out.append("</section>")
    closing = next(s for s in sections if s.name == "closing")
    out.append('<section class="page">')
    for question in closing.questions:
        if question.kind == "text":
            out.append(
                f'<div class="q"><div class="text">{escape(question.label.get("bg", ""))}</div>'
                f'<div class="hint">{escape(question.hint.get("bg", ""))}</div>'
                '<div class="lines">' + "<div></div>" * 6 + "</div></div>"
            )
    out.append(f'<p class="lead">{escape(texts["outro"]["bg"])}</p>')
    out.append(
        '<div class="helpline">Национална телефонна линия за деца<br>'
        f"{escape(HELPLINE)} – безплатно, денонощно</div>"
    )
    out.append(f'<p class="footer">{escape(book.instrument)}</p>')
    out.append("</section></body></html>")
    return "\n".join(out)


def write_paper(
    book: Codebook,
    path: str | Path,
    *,
    version: str | None = None,
    easy_read: bool = False,
    faces: bool | None = None,
) -> Path:
    """Write :func:`paper_html` to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        paper_html(book, version=version, easy_read=easy_read, faces=faces), encoding="utf-8"
    )
    return path
