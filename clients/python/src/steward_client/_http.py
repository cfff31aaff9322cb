"""HTTP plumbing over http.client: one connection per request, bodies streamed both ways."""

from __future__ import annotations

import http.client
import json
import math
import os
import secrets
import ssl
from typing import Any, Callable, Dict, Iterable, Iterator, Mapping, Optional, Tuple
from urllib.parse import quote, urlsplit

from .errors import StewardError

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done_bytes, total_bytes)`` while a file moves (``total`` is 0 if unknown)."""

CHUNK = 256 * 1024


def segment(value: Any) -> str:
    """One path segment, percent-encoded (names may hold '.', '@'… but never '/')."""
    return quote(str(value), safe="")


def exact_json(value: Any) -> Any:
    """JSON has no NaN or infinity: Steward takes them as the strings "NaN", "Infinity", "-Infinity"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: exact_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [exact_json(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, without importing numpy
        return exact_json(value.tolist())
    return value


class Response:
    """An answer whose body has not been read yet: read it whole (:meth:`read`) or in chunks (:meth:`chunks`)."""

    def __init__(self, conn: http.client.HTTPConnection, raw: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._raw = raw
        self.status: int = raw.status
        self.reason: str = raw.reason
        self.headers = raw.headers

    def header(self, name: str) -> Optional[str]:
        return self._raw.getheader(name)

    def read(self) -> bytes:
        try:
            return self._raw.read()
        finally:
            self.close()

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        try:
            while True:
                chunk = self._raw.read(size)
                if not chunk:
                    return
                yield chunk
        finally:
            self.close()

    def json(self) -> Any:
        body = self.read()
        return json.loads(body.decode("utf-8")) if body else None

    def error(self) -> StewardError:
        return StewardError.from_response(self.status, self.read(), self.header("x-request-id"), self.reason)

    def close(self) -> None:
        self._raw.close()
        self._conn.close()


class Transport:
    """Sends requests to one base URL (``http://host:port`` or ``https://…``, optionally with a path prefix)."""

    def __init__(self, base_url: str, *, timeout: float, user_agent: str, ssl_context: Optional[ssl.SSLContext] = None) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"Expected an http:// or https:// URL, got {base_url!r}.")
        self.base_url = base_url.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._ssl = ssl_context
        self._user_agent = user_agent

    def _connect(self) -> http.client.HTTPConnection:
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=self._ssl)
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def open(
        self,
        method: str,
        path: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[Any] = None,
    ) -> Response:
        """Sends a request and returns the answer unread. Raises StewardError(code="UNREACHABLE") if no answer came."""
        conn = self._connect()
        h: Dict[str, str] = {"user-agent": self._user_agent, "accept": "application/json"}
        h.update(headers or {})
        try:
            try:
                conn.request(method, self._prefix + path, body=body, headers=h)
            except (BrokenPipeError, ConnectionResetError) as err:
                # The server may answer (and close) before the body is sent: a refusal of an
                # upload arrives as a broken pipe here. Its answer is the better error.
                if conn.sock is None:
                    raise
                try:
                    raw = conn.getresponse()
                except Exception:
                    raise err from None
                return Response(conn, raw)
            raw = conn.getresponse()
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise StewardError(f"Cannot reach Steward at {self.base_url}: {err}") from err
        except BaseException:
            conn.close()
            raise
        return Response(conn, raw)

    def json(
        self,
        method: str,
        path: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        json_body: Any = None,
        body: Optional[Any] = None,
    ) -> Any:
        """Sends a request and returns its JSON answer; a 4xx or 5xx raises StewardError."""
        h = dict(headers or {})
        if json_body is not None:
            h["content-type"] = "application/json"
            body = json.dumps(exact_json(json_body), allow_nan=False).encode("utf-8")
        res = self.open(method, path, headers=h, body=body)
        if res.status >= 400:
            raise res.error()
        return res.json()


def multipart_file(path: str, metadata: Any, progress: Optional[ProgressCallback]) -> Tuple[Iterable[bytes], Dict[str, str]]:
    """A multipart/form-data body (a ``metadata`` JSON part, then ``file``) read from disk as it is sent.

    The file is never read into memory whole: the body is a generator of 256 KiB chunks and
    Content-Length is computed from the file's size, so http.client sends it as it reads it.
    """
    size = os.path.getsize(path)
    boundary = "----steward" + secrets.token_hex(12)
    # RFC 7578 §4.2: the name as UTF-8 in a quoted string, quotes and backslashes escaped, line breaks replaced.
    name = os.path.basename(path).replace("\r", "_").replace("\n", "_").replace("\\", "\\\\").replace('"', '\\"')
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n"
        f"{json.dumps(exact_json(metadata), allow_nan=False)}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode("utf-8")
    tail = f"\r\n--{boundary}--\r\n".encode("ascii")

    def body() -> Iterator[bytes]:
        yield head
        sent = 0
        if progress:
            progress(0, size)
        with open(path, "rb") as f:
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                sent += len(chunk)
                yield chunk
                if progress:
                    progress(sent, size)
        if sent != size:
            raise StewardError(f"{path} changed size while it was being uploaded ({size} bytes announced, {sent} read).", code="FILE_CHANGED")
        yield tail

    headers = {"content-type": f"multipart/form-data; boundary={boundary}", "content-length": str(len(head) + size + len(tail))}
    return body(), headers
