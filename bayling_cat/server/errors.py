"""The error every route raises for a client: an HTTP status and a message, shaped by the protocol that
answers it (app.py)."""


class ApiError(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
