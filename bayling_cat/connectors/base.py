"""What the pipeline asks of every connector."""

from __future__ import annotations

from pathlib import Path

from bayling_cat.document import Segment


class Connector:
    """A file read into segments, written back with the pipeline's results into the same tree."""

    format = "?"  # e.g. "xliff-1.2", "xliff-2.0", "sdlxliff", "mqxliff"
    can_suggest = False  # whether --mode suggest has a place in this format
    # what machine output is attributed to (XLIFF alt-trans and mtc:match origin, SDLXLIFF origin-system): the
    # pipeline names a model bayling-cat adapt made there, "bayling-cat django-de (adapted from ...)"
    tool = "bayling-cat"
    default_source_lang: str | None = None  # when the file cannot say (gettext msgids are English)

    def __init__(self, path: Path, data: bytes):
        self.path = path
        self.source_lang: str | None = None
        self.target_lang: str | None = None

    def output_path(self, path: Path, target_lang: str) -> Path | None:
        """Where the translation goes when neither -o nor --in-place says: the ecosystem's own layout
        (values-de/strings.xml, de.json); None: bayling-cat's default (NAME.de.EXT)."""
        return None

    def segments(self) -> list[Segment]:
        raise NotImplementedError

    def set_target_language(self, lang: str, replace: bool = False) -> None:
        """Record the target language in the file where it says none (``replace``: also where it says another)."""

    def declared_target_language(self) -> str | None:
        """The target language the file itself declares (not one guessed from its name), as written."""
        return self.target_lang

    def write_target(self, segment: Segment, text: str, copied: bool, origin: str = "mt") -> None:
        """Put ``text`` (balanced placeholders) into the segment's target and mark it: as machine output
        (origin "mt", "tm", copied), as a person's unconfirmed edit ("draft"), or as confirmed human work
        ("human": the state a CAT tool gives a segment its translator confirmed; "reviewed": confirmed again
        by a reviewer, where the format has a state for that, else the same as "human")."""
        raise NotImplementedError

    def state(self, segment: Segment) -> str | None:
        """The segment's state in the format's own words (e.g. "needs-review-translation", "Draft"), if any."""
        return None

    def notes(self, segment: Segment) -> list[str]:
        """The notes the file holds for the segment (as plain text, for a person to read)."""
        return list(segment.notes)

    def write_suggestion(self, segment: Segment, text: str, match: dict | None = None) -> None:
        """Offer ``text`` beside the target, leaving the target alone. ``match``: a translation memory match
        instead of machine output: {"type": "tm", "quality": percent, "source": the matched source}."""
        raise NotImplementedError

    def add_note(self, segment: Segment, text: str) -> None:
        """A note from bayling-cat on the segment's unit (replacing earlier bayling-cat notes there)."""

    def clear_notes(self, segment: Segment) -> None:
        """Remove notes bayling-cat left on the segment's unit in an earlier run."""

    def unwritten(self, segment: Segment) -> bool:
        """After ``serialize``: whether the file does not hold what was written for ``segment`` after all (a PO
        plural entry left untranslated as a whole when one of its forms had no usable translation)."""
        return False

    def serialize(self) -> bytes:
        raise NotImplementedError
