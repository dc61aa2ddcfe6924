"""The round-trip table of docs/formats.md: each file of tests/data/formats read and written without a change,
by translate-toolkit's storage class for the format and by bayling-cat's connector.

    python bench/roundtrip_formats.py            # a Markdown table on standard output
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "formats"


def _storage(name: str):
    """translate-toolkit's class for a file, or None where it has none that writes the format."""
    from translate.storage import aresource, jsonl10n, properties, resx, stringsdict, ts2

    return {
        "i18next/en/common.json": jsonl10n.I18NextV4File, "i18next-icu/en/translations.json": jsonl10n.JsonFile,
        "arb/intl_en_US.arb": jsonl10n.ARBJsonFile, "android/values/strings.xml": aresource.AndroidResourceFile,
        "properties/LocalStrings.properties": properties.javafile,
        "apple/en.lproj/Localizable.strings": properties.stringsutf8file,
        "apple/en.lproj/Localizable.stringsdict": stringsdict.StringsDictFile, "resx/Resources.resx": resx.RESXFile,
        "qt/clock_de.ts": ts2.tsfile,
    }.get(name)


def _ruamel(data: bytes) -> bytes:
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    out = io.StringIO()
    yaml.dump(yaml.load(data.decode("utf-8")), out)
    return out.getvalue().encode("utf-8")


def _changed_lines(a: bytes, b: bytes) -> int:
    diff = difflib.unified_diff(a.decode("utf-8", "replace").splitlines(), b.decode("utf-8", "replace").splitlines(),
                                lineterm="", n=0)
    return sum(1 for line in diff if line[:1] == "-" and not line.startswith("---"))


def _theirs(name: str, data: bytes) -> str:
    if name.endswith(".yml"):
        out = _ruamel(data)
        label = "ruamel.yaml round trip"
    else:
        storage = _storage(name)
        if storage is None:
            return "no storage class that writes it"
        try:
            out = bytes(storage.parsestring(data))
        except Exception as exc:  # noqa: BLE001 - a failure is a result here
            return f"{storage.__name__}: fails ({type(exc).__name__})"
        label = storage.__name__
    if out == data:
        return f"{label}: identical"
    return f"{label}: {len(data):,} → {len(out):,} bytes, {_changed_lines(data, out)} lines changed"


def _ours(path: Path) -> str:
    from bayling_cat.connectors import open_document

    connector = open_document(path)
    connector.set_target_language("de")
    connector.segments()
    return "identical" if connector.serialize() == path.read_bytes() else "DIFFERS"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    print("| file | translate-toolkit | bayling-cat |\n| --- | --- | --- |")
    for path in sorted(p for p in DATA.rglob("*") if p.is_file() and p.name != "README.md" or
                       p.parent.name == "markdown"):
        if "missing_timeframe" in path.name:
            continue  # invalid on purpose
        name = str(path.relative_to(DATA))
        print(f"| `{name}` | {_theirs(name, path.read_bytes())} | {_ours(path)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
