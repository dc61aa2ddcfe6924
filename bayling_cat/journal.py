"""The workbench's edit journal: one JSON record a line, appended and flushed to disk before a change is
answered, read back after a restart.

A record is complete when its line ends with a newline: a write cut short (a full disk, a crash, a power
cut) leaves a line without one. Appending first makes sure the file ends at a line boundary (a torn tail
left by an earlier failure is cut off, or ended with a newline where it cannot be), so a later record is
never glued onto a torn one; a failed append cuts the file back to where it was. Reading drops a torn
tail, and only it: every complete line before it counts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bayling_cat.errors import UserError


class Journal:
    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, record: dict) -> None:
        """Write one record, flushed to disk; on failure the file is as it was and a UserError says why."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
        except OSError as exc:
            raise UserError(f"{self.path.parent}: cannot record the edit ({exc.strerror or exc})") from None
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                size = self._end_tail(fd, size)
            try:
                view = memoryview(line)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except OSError as exc:
                try:
                    os.ftruncate(fd, size)  # the half-written record goes; the file is as it was
                except OSError:
                    pass
                raise UserError(f"{self.path.parent}: cannot record the edit ({exc.strerror or exc}); "
                                "the change was not made") from None
        except OSError as exc:
            raise UserError(f"{self.path.parent}: cannot record the edit ({exc.strerror or exc})") from None
        finally:
            os.close(fd)

    @staticmethod
    def _end_tail(fd: int, size: int) -> int:
        """A torn record at the end of the file: cut it off (or, failing that, end it with a newline)."""
        data = os.pread(fd, size, 0)
        keep = data.rfind(b"\n") + 1
        try:
            os.ftruncate(fd, keep)
            return keep
        except OSError:
            os.write(fd, b"\n")
            return size + 1

    def read(self) -> tuple[list[dict], int]:
        """Every complete record (unreadable lines skipped), and how many lines were read."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return [], 0
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a torn tail: the change it held was never answered as made
            try:
                with open(self.path, "r+b") as fh:
                    fh.truncate(end)
            except OSError:
                pass  # a read-only journal: the tail is skipped all the same
        records, lines = [], 0
        for raw in data[:end].split(b"\n")[:-1]:
            lines += 1
            try:
                entry = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue  # a line torn by an older release, mid-file: the changes around it stand
            if isinstance(entry, dict):
                records.append(entry)
        return records, lines

    def rewrite(self, records: list[dict]) -> None:
        from bayling_cat.fileio import write_atomic

        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        write_atomic(self.path, text.encode("utf-8"))
