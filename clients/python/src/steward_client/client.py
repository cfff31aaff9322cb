"""The Steward client: one object per (Steward URL, API token)."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import ssl
import time
from urllib.parse import urlencode
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union, cast

from ._http import CHUNK, ProgressCallback, Transport, exact_json, multipart_file, segment
from .errors import ChecksumError, StewardError, WaitTimeout
from .types import (
    DatasetSummary,
    Deployment,
    InferResponse,
    InferTensor,
    Me,
    ModelSummary,
    Prediction,
    Pulled,
    PushedDataset,
    PushedModel,
    Review,
    Rollout,
    Run,
)

__all__ = ["Steward", "validation_failed", "DatasetRef"]

__version__ = "0.1.0"

#: A dataset version for lineage: ``"name@3"`` or ``("name", 3)``.
DatasetRef = Union[str, Tuple[str, int]]

TERMINAL_RUN = ("passed", "warned", "failed", "cancelled")
FLOAT_TYPES = ("FP16", "FP32", "FP64", "BF16")
_SPECIAL = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def validation_failed(run: Optional[Run]) -> bool:
    """True when a run failed or was cancelled, or a required check failed (what ``steward runs wait`` exits 6 for)."""
    if run is None:
        return False
    if run.get("status") in ("failed", "cancelled"):
        return True
    return any(c.get("required") and c.get("status") == "fail" for c in run.get("checks", []))


def _ref(d: DatasetRef) -> str:
    if isinstance(d, str):
        return d
    name, version = d
    return f"{name}@{int(version)}"


def _floats(values: Any) -> Any:
    """The strings "NaN", "Infinity" and "-Infinity" of a float tensor's JSON, back to floats."""
    if isinstance(values, list):
        return [_floats(v) for v in values]
    if isinstance(values, str) and values in _SPECIAL:
        return _SPECIAL[values]
    return values


class Steward:
    """A client of one Steward instance, acting with one API token in its workspace.

    >>> st = Steward("http://localhost:3000", token="stw_…")
    >>> st.me()["role"]
    'ml_engineer'

    Args:
        url: Steward's address (the web app), e.g. ``http://localhost:3000``.
        token: an API token (Settings › API tokens), or ``None`` for the public routes only.
        workspace: the workspace's slug; by default the token's own (an API token works in
            one workspace), asked of the server on first use.
        inference_url: where the inference process answers ``/v1/deployments/…`` and
            ``/v2/models/…``. By default ``url``: behind the Kubernetes ingress ``/v1/deployments``
            reaches inference on the same host; with ``npm start`` it is its own port (printed
            at start, and in ``.steward/runtime.json`` as ``inference``).
        timeout: seconds a connection may stay silent before the request fails.
        ssl_context: for https with a private certificate authority.
    """

    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        workspace: Optional[str] = None,
        *,
        inference_url: Optional[str] = None,
        timeout: float = 60.0,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        agent = f"steward-client-python/{__version__}"
        self.url = url.rstrip("/")
        self.token = token
        self._workspace = workspace
        self._api = Transport(self.url, timeout=timeout, user_agent=agent, ssl_context=ssl_context)
        self._inference = Transport(inference_url or self.url, timeout=timeout, user_agent=agent, ssl_context=ssl_context)
        self._sleep: Callable[[float], None] = time.sleep

    # ------------------------------------------------------------------ sign-in
    @classmethod
    def login(
        cls,
        url: str,
        email: str,
        password: str,
        workspace: str,
        *,
        token_name: Optional[str] = None,
        **kwargs: Any,
    ) -> "Steward":
        """Exchanges e-mail and password for a new API token in ``workspace`` (``POST /auth/token``).

        The token is on the returned client (``client.token``): keep it instead of the password.
        Single-sign-on accounts have no password; create a token in Settings › API tokens instead.
        """
        api = Transport(url, timeout=float(kwargs.get("timeout", 60.0)), user_agent=f"steward-client-python/{__version__}", ssl_context=kwargs.get("ssl_context"))
        name = token_name or f"steward-client (python) on {socket.gethostname()}"[:60]
        created = api.json("POST", "/api/v1/auth/token", json_body={"email": email, "password": password, "workspace": workspace, "name": name})
        return cls(url, created["token"], created.get("workspace") or workspace, **kwargs)

    @classmethod
    def from_env(cls, **kwargs: Any) -> "Steward":
        """A client from ``STEWARD_URL``, ``STEWARD_TOKEN``, ``STEWARD_WORKSPACE`` and ``STEWARD_INFERENCE_URL`` (the CLI's variables)."""
        url = os.environ.get("STEWARD_URL")
        token = os.environ.get("STEWARD_TOKEN")
        if not url or not token:
            raise StewardError("Set STEWARD_URL and STEWARD_TOKEN (an API token from Settings › API tokens).", code="NOT_CONFIGURED")
        kwargs.setdefault("inference_url", os.environ.get("STEWARD_INFERENCE_URL") or None)
        return cls(url, token, os.environ.get("STEWARD_WORKSPACE") or None, **kwargs)

    # ------------------------------------------------------------------ plumbing
    def _auth(self, key: Optional[str] = None) -> Dict[str, str]:
        credential = key or self.token
        return {"authorization": f"Bearer {credential}"} if credential else {}

    def request(self, method: str, path: str, json_body: Any = None) -> Any:
        """Calls any REST route under ``/api/v1`` (``path`` starts with ``/``) and returns its JSON.

        For routes this client has no method for yet; see ``GET /api/v1/openapi.json``.
        """
        return self._api.json(method, "/api/v1" + path, headers=self._auth(), json_body=json_body)

    def _pages(self, path: str, query: Optional[Mapping[str, Any]] = None, *, page_size: Optional[int] = None, max_items: Optional[int] = None) -> List[Any]:
        """A list route's items across its pages: the body is one page, X-Next-Cursor the next one's cursor."""
        items: List[Any] = []
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if page_size is not None:
            params["limit"] = page_size
        while True:
            res = self._api.open("GET", "/api/v1" + path + (f"?{urlencode(params)}" if params else ""), headers=self._auth())
            if res.status >= 400:
                raise res.error()
            cursor = res.header("x-next-cursor")
            page = res.json()
            items.extend(page)
            if max_items is not None and len(items) >= max_items:
                return items[:max_items]
            if not cursor or not page:
                return items
            params["cursor"] = cursor

    @property
    def workspace(self) -> str:
        """The workspace slug the client works in (the token's own unless one was given)."""
        if self._workspace is None:
            me = self.me()
            if not me.get("workspace"):
                raise StewardError("The token names no workspace: pass workspace= to Steward().", code="NOT_CONFIGURED")
            self._workspace = cast(str, me["workspace"])
        return self._workspace

    def _ws(self) -> str:
        return f"/workspaces/{segment(self.workspace)}"

    def me(self) -> Me:
        """Who the token acts as: user, e-mail, workspace and role."""
        return cast(Me, self.request("GET", "/me"))

    def openapi(self) -> Dict[str, Any]:
        """The OpenAPI 3 document of the REST API (every route, its permission and schemas)."""
        return cast(Dict[str, Any], self._api.json("GET", "/api/v1/openapi.json"))

    # ------------------------------------------------------------------ datasets
    def list_datasets(self, *, page_size: Optional[int] = None) -> List[DatasetSummary]:
        """Datasets of the workspace by name, with their version counts (every page; ``page_size`` per request, 100 by default)."""
        return cast(List[DatasetSummary], self._pages(f"{self._ws()}/datasets", page_size=page_size))

    def get_dataset(self, name: str) -> Dict[str, Any]:
        """A dataset and its versions."""
        return cast(Dict[str, Any], self.request("GET", f"{self._ws()}/datasets/{segment(name)}"))

    def get_dataset_version(self, name: str, version: int) -> Dict[str, Any]:
        """One dataset version with its schema and profile."""
        return cast(Dict[str, Any], self.request("GET", f"{self._ws()}/datasets/{segment(name)}/versions/{int(version)}"))

    def push_dataset(
        self,
        path: Union[str, "os.PathLike[str]"],
        name: str,
        *,
        description: Optional[str] = None,
        progress: Optional[ProgressCallback] = None,
    ) -> PushedDataset:
        """Uploads a CSV or Parquet file as the dataset's next version, streamed from disk.

        The same bytes as an existing version return that version with ``created=False``.
        ``progress(done, total)`` is called as bytes leave.
        """
        metadata = {"description": description} if description is not None else {}
        return cast(PushedDataset, self._push("datasets", os.fspath(path), name, metadata, progress))

    def pull_dataset(
        self,
        name: str,
        version: int,
        dest: Optional[Union[str, "os.PathLike[str]"]] = None,
        *,
        overwrite: bool = False,
        progress: Optional[ProgressCallback] = None,
    ) -> Pulled:
        """Downloads a dataset version's file, checking its sha256; see :meth:`pull_model`."""
        return self._pull("datasets", name, version, dest, overwrite, progress)

    # ------------------------------------------------------------------ models
    def list_models(self, *, page_size: Optional[int] = None) -> List[ModelSummary]:
        """Models of the workspace by name, with their latest version and aliases (every page; ``page_size`` per request)."""
        return cast(List[ModelSummary], self._pages(f"{self._ws()}/models", page_size=page_size))

    def list_versions(self, name: str, *, filter: Optional[str] = None, page_size: Optional[int] = None) -> List[Dict[str, Any]]:
        """A model's versions, newest first (every page), narrowed by a filter string.

        ``filter`` reads like MLflow's: ``"metrics.auc >= 0.8 and tag = 'candidate'"``; clauses are
        ``metrics.<name> <op> <number>``, ``params.<name> = '<text>'``, ``tag = '<text>'`` and
        ``loadable = true|false``, joined by ``and``.
        """
        return cast(List[Dict[str, Any]], self._pages(f"{self._ws()}/models/{segment(name)}/versions", {"filter": filter}, page_size=page_size))

    def get_model(self, name: str) -> Dict[str, Any]:
        """A model, its versions (metrics, params, lineage), aliases."""
        return cast(Dict[str, Any], self.request("GET", f"{self._ws()}/models/{segment(name)}"))

    def get_model_version(self, name: str, version: int) -> Dict[str, Any]:
        """One model version: its ONNX signature, metrics, params, tags, lineage and aliases."""
        return cast(Dict[str, Any], self.request("GET", f"{self._ws()}/models/{segment(name)}/versions/{int(version)}"))

    def push_model(
        self,
        path: Union[str, "os.PathLike[str]"],
        name: str,
        *,
        description: Optional[str] = None,
        metrics: Optional[Mapping[str, float]] = None,
        params: Optional[Mapping[str, Union[str, int, float, bool]]] = None,
        tags: Optional[Sequence[str]] = None,
        git_commit: Optional[str] = None,
        train_datasets: Sequence[DatasetRef] = (),
        eval_datasets: Sequence[DatasetRef] = (),
        parent: Optional[Union[int, str]] = None,
        progress: Optional[ProgressCallback] = None,
    ) -> PushedModel:
        """Uploads an ONNX file as the model's next version, with its metrics and lineage.

        Args:
            path: the ``.onnx`` file; it is streamed, never read into memory whole.
            name: the model's name (created with its first version).
            metrics: finite numbers, e.g. ``{"auc": 0.91}``.
            params: training parameters (strings, numbers, booleans).
            tags: up to 20 labels.
            git_commit: the commit it was built from (7 to 40 hex digits).
            train_datasets, eval_datasets: dataset versions it was trained and evaluated on,
                ``"name@3"`` or ``("name", 3)``; they must exist in the workspace.
            parent: the version it derives from: a number of the same model or ``"other@2"``.
            progress: ``progress(done, total)`` as bytes leave.

        Returns:
            The version (``created=False`` when the same bytes were already a version), its
            sha256, whether onnxruntime loads it, and ``runs``: the pipeline runs it started
            (wait for them with :meth:`wait_for_validation`).

        Raises:
            StewardError: ``INVALID`` naming the ``field`` (a metric that is not a number, an
                unknown dataset, a file that is not ONNX…), ``FORBIDDEN`` for a role without
                ``model:write``.
        """
        metadata: Dict[str, Any] = {}
        if description is not None:
            metadata["description"] = description
        if metrics:
            metadata["metrics"] = dict(metrics)
        if params:
            metadata["params"] = dict(params)
        if tags:
            metadata["tags"] = list(tags)
        if git_commit:
            metadata["gitCommit"] = git_commit
        if parent is not None:
            metadata["parent"] = parent
        lineage = [{"ref": _ref(d), "role": "train"} for d in train_datasets] + [{"ref": _ref(d), "role": "eval"} for d in eval_datasets]
        if lineage:
            metadata["datasets"] = lineage
        return cast(PushedModel, self._push("models", os.fspath(path), name, metadata, progress))

    def pull_model(
        self,
        name: str,
        version: int,
        dest: Optional[Union[str, "os.PathLike[str]"]] = None,
        *,
        overwrite: bool = False,
        progress: Optional[ProgressCallback] = None,
    ) -> Pulled:
        """Downloads a model version's ONNX file, streamed to disk and checked against its sha256.

        The bytes go to ``<dest>.part`` through a sha256; only when it matches the server's
        ``X-Checksum-Sha256`` does the file take its name, so a short or altered download never
        looks complete (:class:`ChecksumError`, the part deleted). With ``dest`` a file name,
        a download that broke off (``StewardError`` code ``INTERRUPTED``) keeps its part, and
        the same call resumes it where it stopped (``Pulled.resumed_from``).

        Args:
            dest: a file name, or a directory; by default ``<name>-v<version>.onnx`` in the
                current directory.
            overwrite: replace ``dest`` if it exists (otherwise ``FileExistsError``).
            progress: ``progress(done, total)`` as bytes arrive.
        """
        return self._pull("models", name, version, dest, overwrite, progress)

    def set_alias(self, name: str, alias: str, version: int) -> Dict[str, Any]:
        """Points an alias at a version. Protected aliases (staging, production) are refused: :meth:`open_review`."""
        return cast(Dict[str, Any], self.request("PUT", f"{self._ws()}/models/{segment(name)}/aliases/{segment(alias)}", {"version": int(version)}))

    def remove_alias(self, name: str, alias: str) -> Dict[str, Any]:
        """Removes an alias (refused for protected ones, as moving them)."""
        return cast(Dict[str, Any], self.request("DELETE", f"{self._ws()}/models/{segment(name)}/aliases/{segment(alias)}"))

    def _push(self, kind: str, path: str, name: str, metadata: Mapping[str, Any], progress: Optional[ProgressCallback]) -> Dict[str, Any]:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No such file: {path}")
        body, headers = multipart_file(path, metadata, progress)
        headers.update(self._auth())
        return cast(Dict[str, Any], self._api.json("POST", f"/api/v1{self._ws()}/{kind}/{segment(name)}/versions", headers=headers, body=body))

    def _pull(
        self,
        kind: str,
        name: str,
        version: int,
        dest: Optional[Union[str, "os.PathLike[str]"]],
        overwrite: bool,
        progress: Optional[ProgressCallback],
    ) -> Pulled:
        url = f"/api/v1{self._ws()}/{kind}/{segment(name)}/versions/{int(version)}/file"
        # A file name given up front says where an interrupted download's part is: resume it
        # with a Range request, If-Range its ETag (a version's bytes never change, but a
        # part may be of another version's file under the same name).
        named = os.fspath(dest) if dest is not None and not os.path.isdir(dest) else None
        resume_from = 0
        etag_before = ""
        if named and os.path.isfile(named + ".part") and os.path.isfile(named + ".part.etag"):
            resume_from = os.path.getsize(named + ".part")
            with open(named + ".part.etag", encoding="utf-8") as f:
                etag_before = f.read()
        headers = self._auth()
        res = self._api.open("GET", url, headers={**headers, "range": f"bytes={resume_from}-", "if-range": etag_before} if resume_from else headers)
        if res.status == 416:  # the part is as long as the file or longer: start again
            res.close()
            resume_from = 0
            res = self._api.open("GET", url, headers=headers)
        if res.status not in (200, 206):
            raise res.error()
        try:
            resumed = res.status == 206 and resume_from > 0
            expected = (res.header("x-checksum-sha256") or "").lower()
            ranged = re.search(r"/(\d+)$", res.header("content-range") or "")
            total = int(ranged.group(1)) if resumed and ranged else int(res.header("content-length") or 0)
            stored = re.search(r'filename="([^"]*)"', res.header("content-disposition") or "")
            ext = re.sub(r"[^.\w]", "", os.path.splitext(stored.group(1))[1]) if stored else ""
            default_name = f"{name}-v{int(version)}{ext}"
            target = named or (os.path.join(os.fspath(dest), default_name) if dest is not None else default_name)
            if os.path.exists(target) and not overwrite:
                raise FileExistsError(f"{target} exists already: choose another dest, or pass overwrite=True.")
            part = target + ".part"
            digest = hashlib.sha256()
            done = 0
            if resumed:
                with open(part, "rb") as f:
                    for chunk in iter(lambda: f.read(CHUNK), b""):
                        digest.update(chunk)
                        done += len(chunk)
            if named:
                with open(part + ".etag", "w", encoding="utf-8") as f:
                    f.write(res.header("etag") or "")
            if progress:
                progress(done, total)
            broke: Optional[BaseException] = None
            try:
                with open(part, "ab" if resumed else "wb") as out:
                    for chunk in res.chunks():
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
            except (OSError, http.client.HTTPException) as err:
                broke = err
            # http.client ends a body cut short by the peer quietly: fewer bytes than announced is a break too.
            if broke is not None or (total and done < total):
                if not named:
                    os.remove(part)
                again = " Call again with the same dest to resume." if named else ""
                why = f" ({broke!r})" if broke is not None else ""
                raise StewardError(f"The download of {name}@{version} broke off after {done} of {total} bytes{why}.{again}", code="INTERRUPTED") from broke
            actual = digest.hexdigest()
            if not expected or actual != expected or (total and done != total):
                for leftover in (part, part + ".etag"):
                    if os.path.exists(leftover):
                        os.remove(leftover)
                raise ChecksumError(
                    f"The download of {name}@{version} does not match its checksum (sha256 {actual}, {done} bytes; "
                    f"expected {expected or 'none sent'}, {total} bytes); it was deleted. Try again.",
                    expected=expected,
                    actual=actual,
                )
            os.replace(part, target)
            if os.path.exists(part + ".etag"):
                os.remove(part + ".etag")
            return Pulled(name=name, version=int(version), path=target, size_bytes=done, sha256=actual, resumed_from=resume_from if resumed else 0)
        finally:
            res.close()

    # ------------------------------------------------------------------ validation (pipeline runs)
    def get_validation(self, name: str, version: int) -> Optional[Run]:
        """The latest validation run of a model version (the ``validate`` pipeline first), or None if none started."""
        return cast(Optional[Run], self.request("GET", f"{self._ws()}/models/{segment(name)}/versions/{int(version)}/validation")["run"])

    def get_run(self, run_id: str) -> Run:
        """One pipeline run: steps, checks and artifacts."""
        return cast(Run, self.request("GET", f"{self._ws()}/runs/{segment(run_id)}"))

    def list_runs(
        self,
        *,
        pipeline: Optional[str] = None,
        model: Optional[str] = None,
        version: Optional[int] = None,
        limit: Optional[int] = 100,
    ) -> List[Run]:
        """Runs, newest first, following pages back in time up to ``limit`` runs (``None``: all of them)."""
        query = {"pipeline": pipeline, "model": model, "version": version}
        return cast(List[Run], self._pages(f"{self._ws()}/runs", query, page_size=min(limit, 500) if limit else None, max_items=limit))

    def wait_for_validation(
        self,
        name: str,
        version: int,
        *,
        timeout: float = 1800.0,
        interval: float = 1.0,
        on_update: Optional[Callable[[Optional[Run]], None]] = None,
    ) -> Run:
        """Waits until the version's validation run ends (passed, warned, failed or cancelled) and returns it.

        It does not raise when checks fail: look at ``run["status"]`` and ``run["checks"]``, or
        :func:`validation_failed` (what makes ``steward runs wait`` exit 6).

        Args:
            timeout: seconds before :class:`WaitTimeout` (its ``last`` holds the last run seen).
            interval: seconds between two questions to the server.
            on_update: called with the run (or None, before one exists) after every question.
        """
        deadline = time.monotonic() + timeout
        while True:
            run = self.get_validation(name, version)
            if on_update:
                on_update(run)
            if run is not None and run.get("status") in TERMINAL_RUN:
                return run
            if time.monotonic() >= deadline:
                state = f"run #{run.get('number')} is {run.get('status')}" if run else "no validation run has started"
                raise WaitTimeout(f"Timed out after {timeout:g} s waiting for the validation of {name}@{version} ({state}).", last=run)
            self._sleep(interval)

    # ------------------------------------------------------------------ reviews
    def open_review(self, model: str, version: int, alias: str, summary: str, *, assignees: Sequence[str] = ()) -> Review:
        """Proposes a model version for a protected alias (staging, production…).

        The alias moves when its approval policy is satisfied; signatures are given in the
        review room. Refused (``PRECONDITION_FAILED``) for an alias no policy protects, and
        (``CONFLICT``/``INVALID``) when the same proposal is already open.
        """
        body = {"model": model, "version": int(version), "alias": alias, "summary": summary, "assignees": list(assignees)}
        return cast(Review, self.request("POST", f"{self._ws()}/reviews", body))

    def get_review(self, number: int) -> Review:
        """A review request: status, the policy's checklist, signatures, checks and discussion."""
        return cast(Review, self.request("GET", f"{self._ws()}/reviews/{int(number)}"))

    # ------------------------------------------------------------------ deployments
    def list_deployments(
        self,
        *,
        model: Optional[str] = None,
        environment: Optional[str] = None,
        status: Optional[str] = None,
        page_size: Optional[int] = None,
    ) -> List[Deployment]:
        """Deployments of the workspace by name (every page): model, bound alias, follow or pin, primary, canary, shadow, revision.

        ``model``, ``environment`` and ``status`` ("active" or "stopped") narrow the list.
        """
        query = {"model": model, "environment": environment, "status": status}
        return cast(List[Deployment], self._pages(f"{self._ws()}/deployments", query, page_size=page_size))

    def get_deployment(self, name: str) -> Deployment:
        """One deployment: what it serves, its latest rollout and each inference replica's version."""
        return cast(Deployment, self.request("GET", f"{self._ws()}/deployments/{segment(name)}"))

    def get_rollout(self, deployment: str, rollout: str = "latest") -> Rollout:
        """A rollout's state (pending, live, failed with the replica's reason, superseded); ``rollout`` is an id or ``latest``."""
        return cast(Rollout, self.request("GET", f"{self._ws()}/deployments/{segment(deployment)}/rollouts/{segment(rollout)}"))

    def wait_for_rollout(self, deployment: str, rollout: str = "latest", *, timeout: float = 120.0, interval: float = 0.5) -> Rollout:
        """Waits until a rollout is no longer pending and returns it (``status`` live, failed or superseded)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.get_rollout(deployment, rollout)
            if r.get("status") != "pending":
                return r
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"Timed out after {timeout:g} s waiting for {deployment}'s rollout ({r.get('message')}).", last=r)
            self._sleep(interval)

    # ------------------------------------------------------------------ predict (the inference process)
    def predict(
        self,
        deployment: str,
        instances: Optional[Sequence[Mapping[str, Any]]] = None,
        *,
        inputs: Optional[Mapping[str, Any]] = None,
        key: Optional[str] = None,
    ) -> Prediction:
        """Steward's own protocol: ``POST /v1/deployments/{deployment}/predict``.

        Give ``instances`` (records of column → value, for tabular models) or ``inputs``
        (input name → nested list; numpy arrays are converted). NaN and infinities are sent
        as Steward's strings. The answer names the version and role (primary or canary) that
        answered, and ``requestId`` — the id :meth:`feedback` takes.

        Args:
            key: a deployment key (``stwd_…``) to use instead of the client's token.
        """
        if (instances is None) == (inputs is None):
            raise ValueError("Give either instances or inputs.")
        body = {"instances": list(instances)} if instances is not None else {"inputs": dict(inputs or {})}
        return cast(Prediction, self._inference.json("POST", f"/v1/deployments/{segment(deployment)}/predict", headers=self._auth(key), json_body=body))

    def feedback(self, deployment: str, request_id: str, label: Any, *, key: Optional[str] = None) -> Dict[str, Any]:
        """Records ground truth for an earlier prediction (by its ``requestId``), for performance monitoring."""
        return cast(
            Dict[str, Any],
            self._inference.json("POST", f"/v1/deployments/{segment(deployment)}/feedback", headers=self._auth(key), json_body={"requestId": request_id, "label": label}),
        )

    def infer(
        self,
        deployment: str,
        inputs: Sequence[InferTensor],
        *,
        outputs: Optional[Sequence[str]] = None,
        version: Optional[int] = None,
        id: Optional[str] = None,
        parameters: Optional[Mapping[str, Any]] = None,
        key: Optional[str] = None,
    ) -> InferResponse:
        """The Open Inference Protocol (KServe v2): ``POST /v2/models/{deployment}[/versions/{v}]/infer``.

        Each input is ``{"name", "datatype", "shape", "data"}`` (``data`` flat or nested; a
        numpy array is converted, and its shape used when ``shape`` is missing). The datatype
        must be the model input's (``FP32``…): the server does not coerce.

        Args:
            outputs: names of the outputs wanted, in that order (default: all).
            version: ask the primary's or the canary's version explicitly (no canary split).
            id: echoed in the answer.

        Returns:
            The answer, float outputs' ``"NaN"``/``"Infinity"`` strings turned back into floats;
            ``parameters["request_id"]`` is Steward's request id.
        """
        tensors: List[Dict[str, Any]] = []
        for given in inputs:
            t: Dict[str, Any] = dict(given)
            data = t.get("data")
            if "shape" not in t and hasattr(data, "shape"):
                t["shape"] = list(getattr(data, "shape"))
            t["data"] = exact_json(data)
            tensors.append(t)
        body: Dict[str, Any] = {"inputs": tensors}
        if outputs is not None:
            body["outputs"] = [{"name": n} for n in outputs]
        if id is not None:
            body["id"] = id
        if parameters:
            body["parameters"] = dict(parameters)
        path = f"/v2/models/{segment(deployment)}" + (f"/versions/{int(version)}" if version is not None else "") + "/infer"
        answer = cast(InferResponse, self._inference.json("POST", path, headers=self._auth(key), json_body=body))
        for out in answer.get("outputs", []):
            if out.get("datatype") in FLOAT_TYPES:
                out["data"] = _floats(out.get("data"))
        return answer

    def model_metadata(self, deployment: str, *, version: Optional[int] = None, key: Optional[str] = None) -> Dict[str, Any]:
        """The Open Inference Protocol's model metadata: ``{name, versions, platform, inputs, outputs}``."""
        path = f"/v2/models/{segment(deployment)}" + (f"/versions/{int(version)}" if version is not None else "")
        return cast(Dict[str, Any], self._inference.json("GET", path, headers=self._auth(key)))
