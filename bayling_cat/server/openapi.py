"""The OpenAPI 3.1 description of bayling-cat's native API, served at /openapi.json."""

from __future__ import annotations

from bayling_cat import __version__

_ERROR = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_LANG = {"type": "string", "description": "BCP 47 language code, e.g. en, de, pt-BR, zh-CN", "example": "de"}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def spec() -> dict:
    ref = lambda name: {"$ref": f"#/components/schemas/{name}"}  # noqa: E731
    errors = {"400": _ERROR, "401": _ERROR, "413": _ERROR, "503": _ERROR}
    return {
        "openapi": "3.1.0",
        "info": {"title": "bayling-cat", "version": __version__,
                 "description": "Machine translation for CAT tools with BayLing models: segments with inline tags, "
                                "glossary constraints with revision turns, interactive revision and completion, "
                                "documents. The same server also speaks the OpenAI chat-completions "
                                "(/v1/chat/completions, /v1/models), LibreTranslate (/translate, /languages, "
                                "/translate_file), Apertium (/translate?langpair=, /listPairs) and DeepL "
                                "(/v2/..., /v3/...) protocols."},
        "servers": [{"url": "http://127.0.0.1:5000"}],
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                                "bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}}}},
                "Term": {"type": "object", "required": ["source"], "properties": {
                    "source": {"type": "string"}, "target": {"type": "string"},
                    "kind": {"type": "string", "enum": ["preferred", "admitted", "forbidden", "dnt"]}}},
                "TermFindings": {"type": ["object", "null"], "properties": {
                    "matched": {"type": "array", "items": {"type": "string"}},
                    "applied": {"type": "array", "items": {"type": "string"}},
                    "violated": {"type": "array", "items": {"type": "string"}},
                    "revisions": {"type": "integer"}}},
                "TranslateRequest": {"type": "object", "required": ["source_lang", "target_lang", "segments"],
                                     "properties": {
                    "source_lang": _LANG, "target_lang": _LANG,
                    "segments": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"oneOf": [
                        {"type": "string", "description": "text; inline codes as XML tags, e.g. <b>Save</b> or <x id=\"1\"/>"},
                        {"type": "object", "required": ["text"], "properties": {
                            "id": {"type": "string"}, "text": {"type": "string"}}}]}},
                    "glossaries": {"type": "array", "items": {"type": "string"}, "description": "glossary ids"},
                    "terms": {"type": "array", "items": ref("Term"), "description": "inline glossary entries"},
                    "max_revisions": {"type": "integer", "minimum": 0, "maximum": 10, "default": 2},
                    "term_strategy": {"type": "string", "enum": ["none", "force"], "default": "none"}}},
                "TranslateResponse": {"type": "object", "required": ["translations"], "properties": {
                    "model": {"type": "string"}, "source_lang": {"type": "string"}, "target_lang": {"type": "string"},
                    "translations": {"type": "array", "items": {"type": "object", "required": ["id", "text", "flags"],
                                                                "properties": {
                        "id": {"type": "string"}, "text": {"type": "string"},
                        "flags": {"type": "array", "items": {"type": "string"}},
                        "terms": ref("TermFindings"),
                        "matches": {"type": "array", "description": "with serve --memory: the best human memory "
                                    "matches (exact or fuzzy, at least --fuzzy-threshold percent), best first",
                                    "items": {"type": "object", "properties": {
                                        "percent": {"type": "integer"}, "source": {"type": "string"},
                                        "target": {"type": "string"}}}}}}}}},
                "ReviseRequest": {"type": "object", "required": ["instruction"], "properties": {
                    "conversation_id": {"type": "string"}, "source": {"type": "string"},
                    "translation": {"type": "string"}, "source_lang": _LANG, "target_lang": _LANG,
                    "instruction": {"type": "string", "example": "Use 'Datei' for file."}}},
                "ReviseResponse": {"type": "object", "required": ["conversation_id", "translation"], "properties": {
                    "conversation_id": {"type": "string"}, "translation": {"type": "string"},
                    "flags": {"type": "array", "items": {"type": "string"}}, "turns": {"type": "integer"}}},
                "CompleteRequest": {"type": "object", "required": ["source", "source_lang", "target_lang"],
                                    "properties": {
                    "source": {"type": "string"}, "prefix": {"type": "string", "default": ""},
                    "source_lang": _LANG, "target_lang": _LANG,
                    "alternatives": {"type": "integer", "minimum": 0, "maximum": 10, "default": 5},
                    "session": {"type": "string", "maxLength": 200,
                                "description": "names the segment being typed (default: its source and languages); "
                                               "a newer request for it cancels this one (409)"}}},
                "CompleteResponse": {"type": "object", "required": ["continuation", "alternatives"], "properties": {
                    "prefix": {"type": "string"}, "continuation": {"type": "string"},
                    "alternatives": {"type": "array", "items": {"type": "string"}}}},
                "Glossary": {"type": "object", "required": ["id", "name", "source_lang", "target_lang"], "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"}, "source_lang": {"type": "string"},
                    "target_lang": {"type": "string"}, "entry_count": {"type": "integer"}}},
                "GlossaryCreate": {"type": "object", "required": ["source_lang", "target_lang", "entries"],
                                   "properties": {"name": {"type": "string"}, "source_lang": _LANG,
                                                  "target_lang": _LANG,
                                                  "entries": {"type": "array", "items": ref("Term")}}},
                "DocumentJob": {"type": "object", "required": ["id", "status"], "properties": {
                    "id": {"type": "string"}, "status": {"type": "string",
                                                         "enum": ["queued", "translating", "done", "error"]},
                    "error": {"type": ["string", "null"]}, "status_url": {"type": "string"},
                    "result_url": {"type": ["string", "null"]}}},
            },
        },
        "security": [{"apiKey": []}, {"bearer": []}, {}],
        "paths": {
            "/health": {"get": {"summary": "Liveness, model and queue", "security": [],
                                "responses": {"200": _json({"type": "object"})}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": _json({"type": "object"})}}},
            "/v1/models": {"get": {"summary": "The loaded model, in OpenAI's list shape ({object: list, data: [{id, "
                                              "object: model, created, owned_by}]}) with bayling-cat's details",
                                   "responses": {"200": _json({"type": "object"})}}},
            "/v1/translate": {"post": {"summary": "Translate segments (inline tags kept, glossary terms applied)",
                                       "requestBody": _body(ref("TranslateRequest")),
                                       "responses": {"200": _json(ref("TranslateResponse")), **errors}}},
            "/v1/revise": {"post": {"summary": "The next turn of a revision conversation",
                                    "requestBody": _body(ref("ReviseRequest")),
                                    "responses": {"200": _json(ref("ReviseResponse")), "404": _ERROR, **errors}}},
            "/v1/complete": {"post": {"summary": "Continue from what the translator typed; next-word alternatives",
                                      "requestBody": _body(ref("CompleteRequest")),
                                      "responses": {"200": _json(ref("CompleteResponse")), "409": _ERROR,
                                                    **errors}}},
            "/v1/documents": {"post": {
                "summary": "Translate an XLIFF, PO or DOCX file (the file back, or a job with ?async=1)",
                "parameters": [{"name": "async", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}}],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file", "target_lang"], "properties": {
                        "file": {"type": "string", "contentEncoding": "binary"}, "target_lang": _LANG,
                        "source_lang": _LANG, "glossaries": {"type": "array", "items": {"type": "string"}}}}}}},
                "responses": {"200": {"description": "The translated file",
                                      "content": {"application/octet-stream": {"schema": {"type": "string"}}}},
                              "202": _json(ref("DocumentJob"), "Accepted"), "422": _ERROR, **errors}}},
            "/v1/documents/{id}": {"get": {"summary": "A document job's status",
                                           "parameters": [{"name": "id", "in": "path", "required": True,
                                                           "schema": {"type": "string"}}],
                                           "responses": {"200": _json(ref("DocumentJob")), "404": _ERROR}}},
            "/v1/documents/{id}/result": {"get": {"summary": "The translated file",
                                                  "parameters": [{"name": "id", "in": "path", "required": True,
                                                                  "schema": {"type": "string"}}],
                                                  "responses": {"200": {"description": "The file"}, "404": _ERROR,
                                                                "409": _ERROR, "422": _ERROR}}},
            "/v1/glossaries": {
                "get": {"summary": "Glossaries uploaded to this server",
                        "responses": {"200": _json({"type": "object", "properties": {
                            "glossaries": {"type": "array", "items": ref("Glossary")}}})}},
                "post": {"summary": "Add a glossary: JSON entries, or a TBX/CSV/TSV file as multipart 'file'",
                         "requestBody": {"required": True, "content": {
                             "application/json": {"schema": ref("GlossaryCreate")},
                             "multipart/form-data": {"schema": {"type": "object",
                                                                "required": ["file", "source_lang", "target_lang"],
                                                                "properties": {
                                 "file": {"type": "string", "contentEncoding": "binary"}, "name": {"type": "string"},
                                 "source_lang": _LANG, "target_lang": _LANG}}}}},
                         "responses": {"201": _json(ref("Glossary"), "Created"), **errors}}},
            "/v1/glossaries/{id}": {
                "get": {"summary": "One glossary with its entries",
                        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                        "responses": {"200": _json(ref("Glossary")), "404": _ERROR}},
                "delete": {"summary": "Remove a glossary (not one given with serve --glossary: 409)",
                           "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                           "responses": {"204": {"description": "Deleted"}, "404": _ERROR, "409": _ERROR}}},
        },
    }
