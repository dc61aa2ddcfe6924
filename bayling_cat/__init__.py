"""bayling-cat: BayLing translation for CAT tools, on CTranslate2."""

__version__ = "0.1.0"
