"""What a real Steward does not do on request: an altered download, a body that must stream.

A small HTTP server in a thread plays the server here; everything else is tested against the
real one (test_client.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

from steward_client import ChecksumError, Steward, StewardError, WaitTimeout


class Stub(BaseHTTPRequestHandler):
    """Answers from the class attributes; records what it received."""

    file_body = b"0123456789" * 1000
    announced_sha = ""
    cut_after: Optional[int] = None
    received: List[Dict[str, Any]] = []
    validation_answers: List[Dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.endswith("/file"):
            # As the REST route: one byte range with If-Range on the ETag, 206; the whole file, 200.
            body, start = self.file_body, 0
            ranged = self.headers.get("range", "")
            if ranged and self.headers.get("if-range") == '"v1"':
                start = int(ranged.split("=")[1].rstrip("-"))
            self.send_response(206 if start else 200)
            self.send_header("content-type", "application/octet-stream")
            self.send_header("content-length", str(len(body) - start))
            if start:
                self.send_header("content-range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("etag", '"v1"')
            self.send_header("x-checksum-sha256", self.announced_sha)
            self.send_header("content-disposition", 'attachment; filename="m.onnx"')
            self.end_headers()
            if Stub.cut_after is not None:  # the connection breaks mid-file
                self.wfile.write(body[start : Stub.cut_after])
                self.wfile.flush()
                self.close_connection = True
                Stub.cut_after = None
                return
            self.wfile.write(body[start:])
        elif self.path == "/api/v1/openapi.json":
            self._json(200, {"openapi": "3.1.0", "paths": {"/me": {}}})
        elif "/models?" in self.path or self.path.endswith("/models"):
            # Two pages: the second asked for with the first's cursor.
            if "cursor=next" in self.path:
                self._json(200, [{"name": "b"}])
            else:
                body = json.dumps([{"name": "a"}]).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.send_header("x-next-cursor", "next")
                self.end_headers()
                self.wfile.write(body)
        elif self.path.endswith("/validation"):
            self._json(200, {"run": Stub.validation_answers.pop(0) if len(Stub.validation_answers) > 1 else Stub.validation_answers[0]})
        else:
            self._json(404, {"error": {"code": "NOT_FOUND", "message": f"There is no API route {self.path}."}, "requestId": "r-1"})

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        reads: List[int] = []
        body = b""
        while len(body) < length:
            chunk = self.rfile.read(min(65536, length - len(body)))
            reads.append(len(chunk))
            body += chunk
        Stub.received.append({"headers": dict(self.headers), "body": body, "reads": reads})
        self._json(201, {"name": "m", "version": 1, "created": True})


class OfflineTest(unittest.TestCase):
    server: ThreadingHTTPServer
    thread: threading.Thread
    st: Steward
    tmp: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.st = Steward(f"http://127.0.0.1:{cls.server.server_address[1]}", "stw_test", "w")
        cls.tmp = tempfile.mkdtemp(prefix="steward-client-offline-")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()
        cls.server.server_close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_a_download_that_does_not_match_its_checksum_is_deleted(self) -> None:
        Stub.announced_sha = hashlib.sha256(b"other bytes").hexdigest()
        dest = os.path.join(self.tmp, "altered.onnx")
        with self.assertRaises(ChecksumError) as caught:
            self.st.pull_model("m", 1, dest)
        self.assertEqual(caught.exception.actual, hashlib.sha256(Stub.file_body).hexdigest())
        self.assertEqual(caught.exception.expected, Stub.announced_sha)
        self.assertFalse(os.path.exists(dest))
        self.assertFalse(os.path.exists(dest + ".part"))

        Stub.announced_sha = hashlib.sha256(Stub.file_body).hexdigest()
        pulled = self.st.pull_model("m", 1, dest)
        self.assertEqual((pulled.path, pulled.size_bytes), (dest, len(Stub.file_body)))

    def test_a_download_that_broke_off_resumes_where_it_stopped(self) -> None:
        Stub.announced_sha = hashlib.sha256(Stub.file_body).hexdigest()
        dest = os.path.join(self.tmp, "resumed.onnx")
        Stub.cut_after = 4000
        with self.assertRaises(StewardError) as broke:
            self.st.pull_model("m", 1, dest)
        self.assertEqual(broke.exception.code, "INTERRUPTED")
        self.assertEqual(os.path.getsize(dest + ".part"), 4000)
        progress: List[Tuple[int, int]] = []
        pulled = self.st.pull_model("m", 1, dest, progress=lambda d, t: progress.append((d, t)))
        self.assertEqual((pulled.resumed_from, pulled.size_bytes), (4000, len(Stub.file_body)))
        self.assertEqual(progress[0], (4000, len(Stub.file_body)))
        with open(dest, "rb") as f:
            self.assertEqual(f.read(), Stub.file_body)
        self.assertFalse(os.path.exists(dest + ".part") or os.path.exists(dest + ".part.etag"))

    def test_uploads_stream_a_well_formed_multipart_body_with_its_length(self) -> None:
        path = os.path.join(self.tmp, 'we"ird name.onnx')
        content = os.urandom(1024 * 1024 + 17)
        with open(path, "wb") as f:
            f.write(content)
        progress: List[Tuple[int, int]] = []
        self.st.push_model(path, "m", metrics={"auc": 0.5}, progress=lambda d, t: progress.append((d, t)))
        got = Stub.received[-1]
        body: bytes = got["body"]
        self.assertEqual(int(got["headers"]["content-length"]), len(body))
        boundary = got["headers"]["content-type"].split("boundary=")[1]
        parts = body.split(f"--{boundary}".encode())
        self.assertEqual(parts[-1], b"--\r\n")
        self.assertIn(b'name="metadata"\r\n\r\n{"metrics": {"auc": 0.5}}\r\n', parts[1])
        self.assertIn(b'filename="we\\"ird name.onnx"', parts[2])
        self.assertTrue(parts[2].endswith(content + b"\r\n"))
        # Read from disk in 256 KiB chunks as it was sent: progress reported each of them.
        self.assertEqual([d for d, _ in progress], [0, 262144, 524288, 786432, 1048576, 1048593])
        self.assertTrue(all(t == len(content) for _, t in progress))

    def test_waiting_for_validation_returns_the_finished_run_or_times_out(self) -> None:
        Stub.validation_answers = [{"status": "running", "number": 1, "checks": []}] * 2 + [{"status": "failed", "number": 1, "checks": []}]
        self.st._sleep = lambda s: None
        seen: List[Any] = []
        run = self.st.wait_for_validation("m", 1, on_update=seen.append)
        self.assertEqual(run["status"], "failed")
        self.assertEqual(len(seen), 3)
        Stub.validation_answers = [{"status": "running", "number": 7, "checks": []}]
        with self.assertRaises(WaitTimeout) as t:
            self.st.wait_for_validation("m", 1, timeout=0)
        self.assertIn("run #7 is running", t.exception.message)

    def test_lists_follow_every_page_and_the_openapi_document_is_read(self) -> None:
        self.assertEqual([m["name"] for m in self.st.list_models()], ["a", "b"])
        self.assertIn("/me", self.st.openapi()["paths"])

    def test_error_bodies_of_every_protocol(self) -> None:
        rest = StewardError.from_response(400, b'{"error":{"code":"INVALID","message":"bad","field":"metadata.tags"},"requestId":"r"}')
        self.assertEqual((rest.status, rest.code, rest.message, rest.field, rest.request_id), (400, "INVALID", "bad", "metadata.tags", "r"))
        predict = StewardError.from_response(400, b'{"error":{"message":"Input x is missing","input":"x","requestId":"q"}}')
        self.assertEqual((predict.field, predict.request_id), ("x", "q"))
        v2 = StewardError.from_response(404, b'{"error":"unknown model"}', "h")
        self.assertEqual((v2.code, v2.message, v2.request_id), ("HTTP_404", "unknown model", "h"))
        html = StewardError.from_response(502, b"<html>Bad gateway</html>")
        self.assertEqual((html.code, html.message), ("HTTP_502", "<html>Bad gateway</html>"))
        with self.assertRaises(StewardError) as route:
            self.st.get_model("m")
        self.assertEqual((route.exception.status, route.exception.code, route.exception.request_id), (404, "NOT_FOUND", "r-1"))


if __name__ == "__main__":
    unittest.main()
