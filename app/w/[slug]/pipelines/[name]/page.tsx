import type { Metadata } from "next";
import { PipelineEditor } from "~/components/pipelines/pipeline-editor";
import { ensurePageSubject } from "~/server/web/page-guards";

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }): Promise<Metadata> {
  const name = decodeURIComponent((await params).name);
  return { title: name === "new" ? "New pipeline" : `${name} · Pipelines` };
}

export default async function Page({ params }: { params: Promise<{ slug: string; name: string }> }) {
  const p = await params;
  const name = decodeURIComponent(p.name);
  if (name !== "new") await ensurePageSubject(p.slug, { pipeline: name });
  return <PipelineEditor name={name === "new" ? null : name} />;
}
