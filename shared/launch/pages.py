"""The pages a clinician's browser shows when a launch link cannot be followed.

Short, in Swedish and English, saying what happened and what to do. They are the
same for used, expired and unknown codes: the page must not tell a stranger which
codes exist, and the clinician's remedy is the same (go back, click again). They
hold no patient data, load nothing from elsewhere and run no script.
"""

from __future__ import annotations

from collections.abc import Mapping

PAGE_HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}
"""Headers of every page and redirect of the jump-out."""

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:38em;margin:3em auto;padding:0 1em;"
    "line-height:1.5;color:#1b1b1b}h1{font-size:1.3em}hr{border:0;border-top:1px solid #ccc}"
)


def _page(title: str, swedish: str, english: str) -> bytes:
    return f"""<!doctype html>
<html lang="sv">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
{swedish}
<hr>
<div lang="en">
{english}
</div>
</main>
</body>
</html>
""".encode()


GONE_PAGE = _page(
    "Länken gäller inte längre – Link no longer valid",
    """<h1>Länken gäller inte längre</h1>
<p>Länken för att öppna journalen kan bara användas en gång och gäller i en minut.
Den här länken har redan använts eller hunnit gå ut.</p>
<p><strong>Gör så här:</strong> gå tillbaka till Orbit eller Millennium och klicka på
länken igen. Då skapas en ny länk.</p>""",
    """<h1>This link is no longer valid</h1>
<p>A link that opens the patient record works once and for one minute. This one has
already been used or has expired.</p>
<p><strong>What to do:</strong> go back to Orbit or Millennium and click the link
again. A new link is made.</p>""",
)
"""410: used, expired or unknown code."""

UNAVAILABLE_PAGE = _page(
    "Tillfälligt fel – Temporary problem",
    """<h1>Tillfälligt fel</h1>
<p>Journalen kunde inte öppnas just nu på grund av ett tekniskt fel.</p>
<p><strong>Gör så här:</strong> vänta en stund, gå sedan tillbaka och klicka på länken
igen. Kvarstår felet, kontakta IT-supporten.</p>""",
    """<h1>Temporary problem</h1>
<p>The record could not be opened just now because of a technical fault.</p>
<p><strong>What to do:</strong> wait a moment, then go back and click the link again.
If it keeps happening, contact IT support.</p>""",
)
"""503: the launch table could not be reached (or the audit could not be written)."""
