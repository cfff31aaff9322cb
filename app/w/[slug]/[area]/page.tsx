import { Construction } from "lucide-react";
import { notFound } from "next/navigation";
import { UNBUILT_AREAS } from "~/components/shell/nav";
import { Card } from "~/components/ui/card";
import { EmptyState, PageHeader } from "~/components/ui/states";

export async function generateMetadata({ params }: { params: Promise<{ area: string }> }) {
  const area = UNBUILT_AREAS[(await params).area];
  return { title: area?.label ?? "Not found" };
}

export default async function AreaPage({ params }: { params: Promise<{ area: string }> }) {
  const area = UNBUILT_AREAS[(await params).area];
  if (!area) notFound();
  return (
    <>
      <PageHeader title={area.label} description={area.blurb} />
      <Card>
        <EmptyState title={`${area.label} is not built yet`} icon={<Construction className="size-8" aria-hidden />}>
          This area of Steward is planned but not available in this version. Everything you do elsewhere in the workspace is already recorded in the audit
          trail.
        </EmptyState>
      </Card>
    </>
  );
}
