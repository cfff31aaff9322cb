"""The client against a running Steward.

Started by clients/python/python-client.int.test.ts, which seeds a workspace and passes:
STEWARD_URL, STEWARD_TOKEN (an ml_engineer's API token), STEWARD_WORKSPACE,
STEWARD_INFERENCE_URL, STEWARD_TEST_FIXTURES (credit-train.csv, credit-eval.csv,
credit.onnx), STEWARD_TEST_EMAIL and STEWARD_TEST_PASSWORD (the engineer's sign-in). The
workspace has a `validate` pipeline checking roc_auc, and a deployment `scorer-live` of a
logistic regression with the WEIGHTS and BIAS below, following the alias `champion`.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
import unittest
from typing import List, Tuple

from steward_client import Steward, StewardError, validation_failed

ENV = os.environ
LIVE = bool(ENV.get("STEWARD_URL") and ENV.get("STEWARD_TOKEN") and ENV.get("STEWARD_TEST_FIXTURES"))
# The scorer-live deployment's logistic regression (python-client.int.test.ts builds it with these).
WEIGHTS = (0.5, -0.25)
BIAS = 0.1


def fixture(name: str) -> str:
    return os.path.join(ENV["STEWARD_TEST_FIXTURES"], name)


def sha256_of(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def expected_probability(a: float, b: float) -> float:
    z = WEIGHTS[0] * a + WEIGHTS[1] * b + BIAS
    return 1 / (1 + math.exp(-z))


@unittest.skipUnless(LIVE, "needs a running Steward (run clients/python/python-client.int.test.ts)")
class LiveTest(unittest.TestCase):
    st: Steward
    tmp: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.st = Steward.from_env()
        cls.tmp = tempfile.mkdtemp(prefix="steward-client-")

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_token_and_password_sign_in(self) -> None:
        me = self.st.me()
        self.assertEqual(me["role"], "ml_engineer")
        self.assertEqual(me["workspace"], ENV["STEWARD_WORKSPACE"])
        self.assertEqual(Steward(ENV["STEWARD_URL"], ENV["STEWARD_TOKEN"]).workspace, ENV["STEWARD_WORKSPACE"])

        other = Steward.login(ENV["STEWARD_URL"], ENV["STEWARD_TEST_EMAIL"], ENV["STEWARD_TEST_PASSWORD"], ENV["STEWARD_WORKSPACE"])
        self.assertNotEqual(other.token, self.st.token)
        self.assertEqual(other.me()["email"], ENV["STEWARD_TEST_EMAIL"])

        with self.assertRaises(StewardError) as wrong:
            Steward.login(ENV["STEWARD_URL"], ENV["STEWARD_TEST_EMAIL"], ENV["STEWARD_TEST_PASSWORD"] + "x", ENV["STEWARD_WORKSPACE"])
        self.assertEqual(wrong.exception.status, 401)
        self.assertEqual(wrong.exception.code, "UNAUTHORIZED")
        with self.assertRaises(StewardError) as bogus:
            Steward(ENV["STEWARD_URL"], "stw_bogus").me()
        self.assertEqual(bogus.exception.status, 401)

    def test_the_loop_push_pull_validate_review(self) -> None:
        """Datasets and a model with lineage pushed and pulled back, its checks waited for, its review opened."""
        st = self.st
        seen: List[Tuple[int, int]] = []
        train = st.push_dataset(fixture("credit-train.csv"), "credit-train", description="March", progress=lambda d, t: seen.append((d, t)))
        size = os.path.getsize(fixture("credit-train.csv"))
        self.assertEqual((train["version"], train["created"], train["rows"]), (1, True, 300))
        self.assertEqual(seen[-1], (size, size))
        self.assertEqual(train["sha256"], sha256_of(fixture("credit-train.csv")))
        st.push_dataset(fixture("credit-eval.csv"), "credit-eval")
        self.assertFalse(st.push_dataset(fixture("credit-train.csv"), "credit-train")["created"])
        # One dataset a page: the client follows X-Next-Cursor to the end.
        self.assertEqual([d["name"] for d in st.list_datasets(page_size=1)], ["credit-eval", "credit-train"])

        pushed = st.push_model(
            fixture("credit.onnx"),
            "credit",
            description="Logistic regression.",
            metrics={"auc": 0.91},
            params={"epochs": 200, "solver": "gd"},
            tags=["baseline"],
            git_commit="abcdef1",
            train_datasets=["credit-train@1"],
            eval_datasets=[("credit-eval", 1)],
        )
        self.assertEqual((pushed["version"], pushed["created"], pushed["loadable"]), (1, True, True))
        self.assertEqual(len(pushed["runs"]), 1)
        v = st.get_model_version("credit", 1)
        self.assertEqual(v["metrics"], {"auc": 0.91})
        self.assertEqual(v["params"], {"epochs": 200, "solver": "gd"})
        self.assertEqual(v["gitCommit"], "abcdef1")
        lineage = {(d["datasetName"], d["datasetVersion"], d["role"]) for d in st.get_model("credit")["versions"][0]["datasets"]}
        self.assertEqual(lineage, {("credit-train", 1, "train"), ("credit-eval", 1, "eval")})
        self.assertEqual([x["version"] for x in st.list_versions("credit", filter="metrics.auc >= 0.9 and tag = 'baseline'")], [1])
        self.assertEqual(st.list_versions("credit", filter="params.solver = 'adam'"), [])

        # Pulled back: the same bytes, checked against the server's sha256, with progress.
        progress: List[Tuple[int, int]] = []
        pulled = st.pull_model("credit", 1, self.tmp, progress=lambda d, t: progress.append((d, t)))
        self.assertEqual(pulled.path, os.path.join(self.tmp, "credit-v1.onnx"))
        self.assertEqual(pulled.sha256, pushed["sha256"])
        self.assertEqual(sha256_of(pulled.path), sha256_of(fixture("credit.onnx")))
        self.assertEqual(progress[-1], (pulled.size_bytes, pulled.size_bytes))
        self.assertFalse(os.path.exists(pulled.path + ".part"))
        with self.assertRaises(FileExistsError):
            st.pull_model("credit", 1, self.tmp)
        data = st.pull_dataset("credit-eval", 1, os.path.join(self.tmp, "eval.csv"))
        self.assertEqual(data.sha256, sha256_of(fixture("credit-eval.csv")))
        self.assertEqual(data.resumed_from, 0)

        # What a download that broke off leaves: the first bytes and the ETag. The server's byte range completes it.
        broken = os.path.join(self.tmp, "broken-off.onnx")
        with open(fixture("credit.onnx"), "rb") as src, open(broken + ".part", "wb") as part:
            part.write(src.read(100))
        with open(broken + ".part.etag", "w") as etag:
            etag.write(f'"{pushed["sha256"]}"')
        resumed = st.pull_model("credit", 1, broken)
        self.assertEqual((resumed.resumed_from, resumed.sha256), (100, pushed["sha256"]))
        self.assertEqual(sha256_of(broken), sha256_of(fixture("credit.onnx")))

        # The worker runs the validate pipeline; the client waits for its verdict.
        updates: List[object] = []
        run = st.wait_for_validation("credit", 1, timeout=240, interval=0.2, on_update=updates.append)
        self.assertIn(run["status"], ("passed", "warned"))
        self.assertEqual(run["id"], pushed["runs"][0])
        self.assertFalse(validation_failed(run))
        roc = [c for c in run["checks"] if c["name"].endswith("roc_auc")]
        self.assertEqual(len(roc), 1)
        self.assertEqual(roc[0]["status"], "pass")
        self.assertGreater(roc[0]["value"] or 0, 0.5)
        self.assertTrue(updates)
        self.assertEqual([r["id"] for r in st.list_runs(model="credit", limit=1)], [run["id"]])

        review = st.open_review("credit", 1, "production", "First release of the credit model.")
        self.assertEqual(st.get_review(review["number"])["status"], "open")
        with self.assertRaises(StewardError) as again:
            st.open_review("credit", 1, "production", "Again.")
        self.assertIn("already an open review request", again.exception.message)
        with self.assertRaises(StewardError) as unprotected:
            st.open_review("credit", 1, "champion", "Not protected.")
        self.assertEqual((unprotected.exception.status, unprotected.exception.code), (412, "PRECONDITION_FAILED"))

    def test_deployments_and_both_inference_protocols(self) -> None:
        st = self.st
        rollout = st.wait_for_rollout("scorer-live", timeout=240, interval=0.2)
        self.assertEqual(rollout["status"], "live", rollout.get("message"))
        self.assertIn("scorer-live", [d["name"] for d in st.list_deployments()])
        self.assertEqual([d["name"] for d in st.list_deployments(model="no-such-model")], [])
        self.assertIn("scorer-live", [d["name"] for d in st.list_deployments(status="active", page_size=1)])
        d = st.get_deployment("scorer-live")
        self.assertEqual((d["model"], d["alias"], d["primary"], d["following"]), ("scorer", "champion", 1, True))

        p = st.predict("scorer-live", [{"a": 2, "b": 1}, {"a": -1, "b": 4}])
        self.assertEqual((p["version"], p["role"]), (1, "primary"))
        self.assertTrue(p["requestId"])
        probabilities = [row[0] for row in p["outputs"]["probability"]]
        for got, want in zip(probabilities, [expected_probability(2, 1), expected_probability(-1, 4)]):
            self.assertAlmostEqual(got, want, places=6)

        meta = st.model_metadata("scorer-live")
        self.assertEqual([i["name"] for i in meta["inputs"]], ["features"])
        answer = st.infer(
            "scorer-live",
            [{"name": "features", "datatype": "FP32", "shape": [2, 2], "data": [2, 1, -1, 4]}],
            outputs=["probability"],
            id="py-1",
        )
        self.assertEqual((answer["id"], answer["model_version"]), ("py-1", "1"))
        self.assertTrue(answer["parameters"]["request_id"])
        [out] = answer["outputs"]
        self.assertEqual((out["name"], out["datatype"], out["shape"]), ("probability", "FP32", [2, 1]))
        for got, want in zip(out["data"], [expected_probability(2, 1), expected_probability(-1, 4)]):
            self.assertAlmostEqual(got, want, places=6)

        with self.assertRaises(StewardError) as wrong_type:
            st.infer("scorer-live", [{"name": "features", "datatype": "FP64", "shape": [1, 2], "data": [1, 2]}])
        self.assertEqual(wrong_type.exception.status, 400)
        self.assertIn("features", wrong_type.exception.message)
        with self.assertRaises(StewardError) as missing:
            st.predict("scorer-live", [{"a": 1}])
        self.assertEqual(missing.exception.status, 400)
        self.assertIn("b", missing.exception.message)
        with self.assertRaises(StewardError) as unknown:
            st.predict("no-such-deployment", [{"a": 1, "b": 2}])
        self.assertEqual(unknown.exception.status, 404)

    def test_errors_carry_status_code_message_and_field(self) -> None:
        st = self.st
        with self.assertRaises(StewardError) as nf:
            st.get_model("no-such-model")
        e = nf.exception
        self.assertEqual((e.status, e.code), (404, "NOT_FOUND"))
        self.assertTrue(e.request_id)
        self.assertIn("no-such-model", e.message)

        with self.assertRaises(StewardError) as invalid:
            st.push_model(fixture("credit.onnx"), "credit", git_commit="not-a-commit")
        e = invalid.exception
        self.assertEqual((e.status, e.code, e.field), (400, "INVALID", "metadata.gitCommit"))
        self.assertIn("gitCommit", e.message)

        with self.assertRaises(StewardError) as lineage:
            st.push_model(fixture("credit.onnx"), "credit", train_datasets=["no-such-data@1"])
        self.assertEqual((lineage.exception.status, lineage.exception.code, lineage.exception.field), (400, "INVALID", "datasets"))
        self.assertIn("no-such-data@1 does not exist", lineage.exception.message)

        with self.assertRaises(StewardError) as forbidden:
            st.request("POST", f"/workspaces/{st.workspace}/deployments", {"name": "x", "model": "scorer", "environment": "production"})
        self.assertEqual((forbidden.exception.status, forbidden.exception.code), (403, "FORBIDDEN"))
        self.assertIn("deployment:manage", forbidden.exception.message)

        with self.assertRaises(StewardError) as broken:
            path = os.path.join(self.tmp, "broken.onnx")
            with open(path, "wb") as f:
                f.write(b"definitely not onnx")
            st.push_model(path, "broken")
        self.assertEqual((broken.exception.status, broken.exception.code), (400, "INVALID"))

        # Refused before the body is read: the answer arrives while the file is still being sent.
        big = os.path.join(self.tmp, "big.onnx")
        with open(big, "wb") as f:
            f.truncate(32 * 1024 * 1024)
        with self.assertRaises(StewardError) as elsewhere:
            Steward(ENV["STEWARD_URL"], ENV["STEWARD_TOKEN"], "another-workspace").push_model(big, "big")
        self.assertEqual((elsewhere.exception.status, elsewhere.exception.code), (404, "NOT_FOUND"))

        with self.assertRaises(StewardError) as unreachable:
            Steward("http://127.0.0.1:9", "stw_x", "w").list_models()
        self.assertEqual((unreachable.exception.status, unreachable.exception.code), (None, "UNREACHABLE"))


if __name__ == "__main__":
    unittest.main()
