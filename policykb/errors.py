"""Errors named by their cause. Every error policykb reports on purpose is a
:class:`PolicyKBError`: a stable ``code``, the process exit status the CLI uses, a Korean
message for people and the underlying reason (the engine's or the operating system's
words) kept apart from it.

The classes, their codes and exit statuses are listed in the README ("Errors and exit
codes"). Exit 3 is not an error class: the run finished, but some files could not be
ingested (each is recorded with its reason).
"""

from __future__ import annotations

import errno
import sqlite3

EXIT_FILES_FAILED = 3


class PolicyKBError(Exception):
    """Base class: ``message`` is Korean and safe to show; ``reason`` is the detail."""

    code = "error"
    exit_code = 1
    label = "오류"

    def __init__(self, message: str, reason: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        if code:
            self.code = code

    def __str__(self) -> str:
        return f"{self.message} ({self.reason})" if self.reason else self.message

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message, "reason": self.reason}


class InputError(PolicyKBError):
    """Bad input given by the user (arguments, settings, request parameters, a query, an
    upload): nothing was changed. ``param`` names the offending parameter when there is
    one; ``status`` is the HTTP status the web app answers with (4xx)."""

    code = "input"
    exit_code = 2
    label = "입력 오류"
    status = 400
    param: str | None = None

    def __init__(
        self,
        message: str,
        reason: str | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, reason, code)
        if param:
            self.param = param

    def to_json(self) -> dict:
        """The body of ``{"error": ...}``: code, Korean message and (when known) param."""
        body = {"code": self.code, "message": self.message}
        if self.param:
            body["param"] = self.param
        return body


class TooLargeError(InputError):
    """An upload or edited text over its size limit (HTTP 413)."""

    code = "too_large"
    status = 413


class ConflictError(PolicyKBError):
    """The request clashes with work in progress, e.g. a job of the same kind (HTTP 409)."""

    code = "conflict"
    label = "충돌"
    status = 409


class StorageError(PolicyKBError):
    """The data directory cannot be written: disk full, no permission, read-only."""

    code = "storage"
    exit_code = 4
    label = "저장 공간 오류"


class EngineError(PolicyKBError):
    """The search engine refused a request or cannot be reached."""

    code = "engine"
    exit_code = 5
    label = "검색 엔진 오류"


_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NO_PERMISSION = {errno.EACCES, errno.EPERM, errno.EROFS}
# SQLite and tantivy report these as text ("database or disk is full", "os error 28").
_NO_SPACE_WORDS = ("disk is full", "no space", "file too large", "quota", "os error 28")
_NO_PERMISSION_WORDS = (
    "readonly database",
    "read-only",
    "permission denied",
    "operation not permitted",
    "os error 13",
)


def storage_error(exc: BaseException) -> StorageError:
    """The :class:`StorageError` an operating-system or SQLite failure means."""
    text = str(exc)
    lowered = text.lower()
    err = getattr(exc, "errno", None)
    if err in _NO_SPACE or any(w in lowered for w in _NO_SPACE_WORDS):
        return StorageError("디스크 공간이 부족합니다", text, code="storage_full")
    if (
        err in _NO_PERMISSION
        or any(w in lowered for w in _NO_PERMISSION_WORDS)
        or (isinstance(exc, sqlite3.OperationalError) and "unable to open" in lowered)
    ):
        return StorageError(
            "데이터 디렉터리에 쓸 권한이 없습니다 (POLICYKB_DATA_DIR의 소유자와 권한을 확인하세요)",
            text,
            code="storage_permission",
        )
    if "disk i/o error" in lowered or err == errno.EIO:
        # SQLite's word for a failed write (a file-size limit, a failing device, a disk
        # that filled up between two checks).
        return StorageError(
            "디스크에 쓰지 못했습니다 (공간 부족, 파일 크기 제한 또는 장치 오류)",
            text,
            code="storage_io",
        )
    return StorageError("데이터를 저장하지 못했습니다", text)
