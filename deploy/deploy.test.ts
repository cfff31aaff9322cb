import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

/**
 * The deployment files, checked without a cluster or a Docker engine: kustomize renders
 * each overlay (kubectl kustomize), every object validates against the Kubernetes schemas
 * (kubernetes-models), and the Dockerfile only copies what exists.
 */
const root = path.resolve(import.meta.dirname, "..");
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string }; spec?: Record<string, unknown> };

function render(overlay: string): K8sObject[] {
  const out = execFileSync("kubectl", ["kustomize", path.join(root, "deploy/k8s/overlays", overlay)], { encoding: "utf8" });
  return parseAllDocuments(out).map((d) => d.toJSON() as K8sObject);
}

async function validate(o: K8sObject) {
  const mod = (await import(`kubernetes-models/${o.apiVersion}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = mod[o.kind];
  expect(Model, `${o.apiVersion} ${o.kind} has a schema`).toBeTruthy();
  new Model!(o).validate();
}

type Container = { image: string; args: string[]; readinessProbe?: unknown; livenessProbe?: unknown; resources?: { requests?: Record<string, string> } };
const containers = (o: K8sObject) => (o.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers;

const ingressOf = (objects: K8sObject[]) =>
  objects.find((o) => o.kind === "Ingress") as unknown as {
    spec: { rules: { http: { paths: { path: string; backend: { service: { name: string } } }[] } }[] };
  };

describe.each(["small", "large"])("kustomize overlay %s", (overlay) => {
  const objects = render(overlay);

  it("renders objects that validate against the Kubernetes schemas", async () => {
    expect(objects.length).toBeGreaterThan(6);
    for (const o of objects) await validate(o);
  });

  it("runs web, worker and inference with probes and resource requests, inference behind an HPA and the ingress, and migrations as a Job", () => {
    const byName = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;
    for (const name of ["steward-web", "steward-worker", "steward-inference"]) {
      const [c] = containers(byName("Deployment", name));
      expect(c!.readinessProbe, name).toBeTruthy();
      expect(c!.livenessProbe, name).toBeTruthy();
      expect(c!.resources?.requests?.cpu, name).toBeTruthy();
    }
    expect(containers(byName("Job", "steward-migrate"))[0]!.args).toEqual(["migrate"]);
    const entrypoint = fs.readFileSync(path.join(root, "bin/docker-entrypoint.sh"), "utf8");
    for (const o of objects.filter((x) => x.kind === "Deployment" || x.kind === "Job")) {
      for (const c of containers(o)) {
        expect(c.image).toBe("ghcr.io/example/steward:0.1.0");
        expect(entrypoint).toContain(`${c.args[0]})`);
      }
    }
    expect(objects.filter((o) => o.kind === "PodDisruptionBudget")).toHaveLength(3);
    // Inference scales on CPU; its thread count follows its CPU request.
    const hpa = byName("HorizontalPodAutoscaler", "steward-inference") as unknown as {
      spec: { minReplicas: number; maxReplicas: number; scaleTargetRef: { name: string } };
    };
    expect(hpa.spec.scaleTargetRef.name).toBe("steward-inference");
    expect(hpa.spec.minReplicas).toBe(overlay === "small" ? 1 : 4);
    const inf = containers(byName("Deployment", "steward-inference"))[0] as Container & { env: { name: string; value: string }[] };
    expect(inf.env.find((e) => e.name === "INFERENCE_THREADS")!.value).toBe(String(Math.max(1, Number.parseInt(String(inf.resources!.requests!.cpu), 10))));
    expect(byName("Service", "steward-inference")).toBeTruthy();
    const paths = ingressOf(objects).spec.rules[0]!.http.paths.map((p) => `${p.path}→${p.backend.service.name}`);
    expect(paths).toEqual(["/v1/deployments→steward-inference", "/→steward-web"]);
    const ingress = byName("Ingress", "steward") as unknown as { metadata: { annotations: Record<string, string> } };
    expect(ingress.metadata.annotations["nginx.ingress.kubernetes.io/affinity"]).toBe("cookie");
    if (overlay === "large") expect(objects.some((o) => o.kind === "HorizontalPodAutoscaler")).toBe(true);
  });
});

describe("schema validation", () => {
  it("would catch a broken object", async () => {
    await expect(validate({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { replicas: "two" } })).rejects.toThrow();
  });
});

describe("Dockerfile", () => {
  const text = fs.readFileSync(path.join(root, "Dockerfile"), "utf8");
  it("copies only what exists, installs from the lockfile, and runs as a non-root user", () => {
    const copies = [...text.matchAll(/^COPY (?!--from)(?:--chown=\S+ )?(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(copies.length).toBeGreaterThan(5);
    for (const src of copies) if (src !== ".") expect(fs.existsSync(path.join(root, src)), src).toBe(true);
    expect(text).toMatch(/RUN npm ci --no-audit/);
    expect(text).toMatch(/RUN npm ci --omit=dev/);
    expect(text).not.toMatch(/^RUN npm install/m);
    expect(text).toMatch(/^USER steward$/m);
    const entry = /ENTRYPOINT \["([^"]+)"\]/.exec(text)![1]!;
    expect(fs.statSync(path.join(root, entry)).mode & 0o111).not.toBe(0);
  });
});
