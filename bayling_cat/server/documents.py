"""Whole documents sent to the server (/v1/documents, DeepL's /v2/document, LibreTranslate's
/translate_file): each one a job of the job store, translated by the file pipeline on the server's batched
engine (so documents share the model fairly with every other request), its glossaries and its memory."""

from __future__ import annotations

from bayling_cat.errors import UserError
from bayling_cat.server.jobs import DOCUMENT, Job


def start_document(parts, data: bytes, filename: str, source_lang, target_lang, glossary_ids=()) -> Job:
    """``filename``: a name common.file_name has checked. The job expires a while after it ends."""
    for gid in glossary_ids:  # an unknown glossary is the request's 404 now, not the job's error later
        if parts.glossaries.get(gid) is None:
            from bayling_cat.server.errors import ApiError

            raise ApiError(404, f"unknown glossary {gid!r}")

    def prepare(job: Job) -> None:
        folder = parts.jobs.folder(job)
        (folder / "out").mkdir(exist_ok=True)
        job.input = folder / filename
        job.input.write_bytes(data)

    def work(job: Job) -> None:
        from bayling_cat.pipeline import Options, Pipeline

        job.status = "translating"
        folder, path = job.input.parent, job.input
        options = Options(source_lang=source_lang, target_lang=target_lang, output=folder / "out" / filename,
                          model_id=parts.service.model_name, fuzzy_threshold=parts.settings.fuzzy_threshold)
        run = Pipeline(parts.service.engine, options,
                       glossary_for=lambda s, t: parts.glossaries.for_request(s, t, glossary_ids),
                       memory=parts.settings.memory)
        [result] = run.run([str(path)])
        if result.error:
            raise UserError(result.error.replace(str(path), filename))
        job.output = result.output
        job.characters = sum(len(s.source) for s in result.segments)
        parts.service.count([s.source for s in result.segments if s.action == "translated"])

    return parts.jobs.start(DOCUMENT, work, prepare=prepare, name=filename)
