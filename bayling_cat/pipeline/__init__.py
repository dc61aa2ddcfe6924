"""The file pipeline, a door of the translation core: ``plan`` (which files, which outputs, collisions),
``run`` (read, decide, translate through the core, write), ``report`` (per segment and totals)."""

from bayling_cat.pipeline.plan import (FileResult, Options, check_collisions, collect_inputs, default_output,
                                       named_for)
from bayling_cat.pipeline.report import (FLAG_TEXT, fuzzy_entry, progress_bar, report, summary, terminology_totals,
                                         terms_entry, write_report)
from bayling_cat.pipeline.run import Pipeline, check_files, write_tm_match

__all__ = ["FLAG_TEXT", "FileResult", "Options", "Pipeline", "check_collisions", "check_files", "collect_inputs",
           "default_output", "fuzzy_entry", "named_for", "progress_bar", "report", "summary", "terminology_totals",
           "terms_entry", "write_report", "write_tm_match"]
