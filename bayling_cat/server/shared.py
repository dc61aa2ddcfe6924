"""The one path two protocols share: ``/translate`` is LibreTranslate's and Apertium's. Which one a request is
for is decided by ``protocols.owner_of_translate`` (the same decision shapes its errors), and nowhere else."""

from __future__ import annotations

from flask import Blueprint, request

from bayling_cat.server.apertium import translate_apertium
from bayling_cat.server.libretranslate import translate_lt
from bayling_cat.server.protocols import owner_of_translate

bp = Blueprint("shared_paths", __name__)


@bp.route("/translate", methods=["GET", "POST"])
def translate_shared():
    if owner_of_translate(request.values, request.method) == "apertium":
        return translate_apertium()
    return translate_lt()
