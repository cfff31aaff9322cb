import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { ReviewRoom } from "~/components/reviews/review-room";
import { ensurePageSubject } from "~/server/web/page-guards";

export async function generateMetadata({ params }: { params: Promise<{ number: string }> }): Promise<Metadata> {
  return { title: `Review #${(await params).number}` };
}

export default async function Page({ params }: { params: Promise<{ slug: string; number: string }> }) {
  const p = await params;
  const n = Number(p.number);
  if (!Number.isInteger(n) || n < 1) notFound();
  await ensurePageSubject(p.slug, { review: n });
  return <ReviewRoom number={n} />;
}
